"""Apps shipped with LendBase (folders of metadata documents)."""
