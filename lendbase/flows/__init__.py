"""Approval flows (a later issue)."""
