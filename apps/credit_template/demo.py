"""The credit template's demo portfolio (``lendbase demo``): realistic and reproducible.

Everything random comes from one ``random.Random(seed)`` and every date from one business date,
so the same seed and date always give the same data. The portfolio is first planned in memory:
organisation, customers, consents, related parties, applications, loans with schedules from
``amortization.schedule`` and repayment behaviour up to the business date (early settlement,
on-time, last-day, late, partial and missed payments). It is then written form by form, in
the template's install order and chronologically within a form, through
``RecordService.create``: every record is validated, reference-checked, numbered and audited
exactly like user input, with ``created_at`` (and so its auto number) at the business time it
happened. Users, roles and departments are platform rows and are inserted directly.

This module plans and writes; the reference data and identities come from ``demo_data`` and
each loan's servicing (schedule, penalty, posting, DPD, bucket) from ``servicing``.
The caller owns the transaction: nothing here commits.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from apps.credit_template import amortization as am
from apps.credit_template.demo_data import (
    AM_TEAMS,
    BRANCHES,
    DEMO_ONLY_KEYS,
    FEMALE_GIVEN,
    MALE_GIVEN,
    NEUTRAL_GIVEN,
    OPINIONS,
    OTHER_TEAMS,
    PRODUCTS,
    PROFILES,
    RATINGS,
    REJECTIONS,
    SALES_TEAMS,
    STAFF,
    SURNAMES,
    TRADES,
    Identities,
    random_bank_account,
)
from apps.credit_template.servicing import (
    LoanSimulation,
    ServicingTerms,
    bucket_for,
    simulate_borrower,
)
from lendbase import db
from lendbase.auth.users import ensure_department, ensure_role
from lendbase.errors import Conflict
from lendbase.forms.compile import CompiledSchema
from lendbase.records.files import FileStore
from lendbase.records.permissions import Actor
from lendbase.records.service import RecordService
from lendbase.security import FieldCipher, hash_password

__all__ = ["DEMO_PASSWORD", "DemoSummary", "bucket_for", "generate_demo"]

DEMO_PASSWORD = "demo-pass-2026"
TZ = ZoneInfo("Asia/Shanghai")
_APP_JSON = Path(__file__).with_name("app.json")
_HISTORY_DAYS = 1095  # customers arrive over the three years before the business date
ZERO = am.ZERO


@dataclass(frozen=True)
class DemoSummary:
    """What ``generate_demo`` created: records per form, users, repayments by timing."""

    seed: int
    business_date: date
    counts: dict[str, int]
    users: int
    repayment_kinds: dict[str, int]
    stage_seconds: dict[str, float]
    seconds: float

    @property
    def records(self) -> int:
        return sum(self.counts.values())

    def __str__(self) -> str:
        forms = ", ".join(f"{form} {count}" for form, count in self.counts.items())
        kinds = ", ".join(f"{kind} {count}" for kind, count in self.repayment_kinds.items())
        return (f"{self.records} records for business date {self.business_date} (seed "
                f"{self.seed}) in {self.seconds:.1f} s: {forms}; {self.users} users; "
                f"repayments by timing: {kinds}")


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _money(value: float | Decimal, step: int = 1000) -> Decimal:
    return Decimal(max(step, int(round(float(value) / step)) * step)).quantize(am.CENT)


# --- plan --------------------------------------------------------------------------------


@dataclass(eq=False)
class _Rec:
    """One record to create; ``_Rec`` values inside ``data`` stand for that record's id."""

    form: str
    at: datetime
    data: dict[str, Any]
    owner: int | None = None
    id: int | None = None


class _Planner:
    """Builds every record of the demo in memory, from one seeded ``Random``."""

    def __init__(self, rng: random.Random, today: date, users: dict[str, list[int]],
                 am_teams: dict[int, str], evidence_id: int) -> None:
        self.rng, self.today, self.users, self.am_teams = rng, today, users, am_teams
        self.evidence_id = evidence_id
        self.recs: list[_Rec] = []
        self.start = today - timedelta(days=_HISTORY_DAYS + 30)
        self.ids = Identities(rng, today)
        self.am_weights = [rng.uniform(0.6, 1.4) for _ in users["account_manager"]]

    def add(self, form: str, at: datetime, data: dict[str, Any],
            owner: int | None = None) -> _Rec:
        rec = _Rec(form, at, data, owner)
        self.recs.append(rec)
        return rec

    def at(self, day: date, first: int = 9, last: int = 18) -> datetime:
        minutes = self.rng.randint(first * 60, last * 60 - 1)
        return datetime(day.year, day.month, day.day, minutes // 60, minutes % 60,
                        self.rng.randint(0, 59), tzinfo=TZ)

    def days_ago(self, days: int) -> date:
        return self.today - timedelta(days=days)

    # organisation and products
    def structure(self, heads: dict[str, int]) -> tuple[dict[str, _Rec], list[_Rec]]:
        opened = self.start - timedelta(days=365 * 2)
        branches = {}
        for code, name, level, province, _ in BRANCHES:
            branches[name] = self.add("branch", self.at(opened), {
                "code": code, "name": name, "branch_level": level, "region": province,
                "address": self.ids.address(self.ids.county(province)),
                "phone": self.ids.mobile(), "manager": heads.get(name),
                "established_on": opened, "is_active": True})
        teams = {}
        for name, branch in SALES_TEAMS.items():
            teams[name] = self.add("team", self.at(opened), {
                "name": name, "branch": branches[branch], "team_type": "sales",
                "leader": heads.get(name)})
        for name, kind in OTHER_TEAMS:
            teams[name] = self.add("team", self.at(opened), {
                "name": name, "branch": branches["总部"], "team_type": kind,
                "leader": heads.get(name)})
        products = []
        for spec in PRODUCTS:
            data = {k: v for k, v in spec.items() if k not in DEMO_ONLY_KEYS}
            data.update(effective_from=opened, is_active=True,
                        description=f"{spec['name']}：年化利率{spec['annual_rate']}%，"
                                    f"期限{spec['min_term_months']}-{spec['max_term_months']}个月。")
            rec = self.add("loan_product", self.at(opened), data)
            rec.data["_spec"] = spec
            products.append(rec)
        return {**branches, **teams}, products

    # customers
    def customer(self, org: dict[str, _Rec], products: list[_Rec]) -> None:
        rng = self.rng
        am_id = rng.choices(self.users["account_manager"], weights=self.am_weights)[0]
        team = self.am_teams[am_id]
        branch = SALES_TEAMS[team]
        province = rng.choice(next(b[4] for b in BRANCHES if b[1] == branch))
        county = self.ids.county(province)
        enterprise = rng.random() < 0.2
        profile = _weighted(rng, PROFILES)
        rating = rng.choices("abcd", weights=RATINGS[profile])[0]
        onboarded = self.days_ago(3 + int(_HISTORY_DAYS * rng.random() ** 1.6))
        bank, account = random_bank_account(rng)
        data: dict[str, Any] = {
            "customer_type": "enterprise" if enterprise else "individual",
            "mobile": self.ids.mobile(), "region": county, "address": self.ids.address(county),
            "channel": rng.choices(("online", "branch", "referral", "partner", "telemarketing"),
                                   weights=(30, 25, 20, 15, 10))[0],
            "account_manager": am_id, "team": org[team], "rating": rating,
            "bank_name": bank, "bank_account": account, "blacklisted": False}
        if enterprise:
            industry = rng.choice(list(TRADES))
            name = self.ids.firm(county, industry)
            rep, rep_male = self.ids.person()
            revenue = _money(10 ** rng.uniform(6, 8.3), 10000)
            data.update(name=name, uscc=self.ids.uscc(county),
                        legal_representative=rep, industry=industry,
                        legal_rep_id_number=self.ids.id_number(
                            province, self.birth(30, 62), rep_male),
                        registered_capital=_money(10 ** rng.uniform(6, 7.7), 100000),
                        established_on=self.days_ago(rng.randint(2 * 365, 25 * 365)),
                        annual_revenue=revenue, employee_count=rng.randint(5, 300),
                        contacts=[{"contact_name": self.ids.person()[0],
                                   "relation": "finance_contact", "phone": self.ids.mobile(),
                                   "is_emergency": False, "consent_to_contact": True}])
            capacity = min(6e6, float(revenue) * rng.uniform(0.03, 0.15))
        else:
            name, male = self.ids.person()
            born = self.birth(22, 60)
            salaried = rng.random() < 0.55
            industry = "salaried" if salaried else rng.choice(list(TRADES))
            income = _money(rng.uniform(6000, 40000) if salaried else rng.uniform(10000, 90000),
                            100)
            data.update(name=name, id_number=self.ids.id_number(province, born, male),
                        gender="male" if male else "female", birth_date=born,
                        marital_status=rng.choices(("single", "married", "divorced", "widowed"),
                                                   weights=(25, 65, 8, 2))[0],
                        employer=self.ids.firm(county, rng.choice(list(TRADES))) if salaried
                        else None, monthly_income=income, industry=industry,
                        contacts=self.contacts(name))
            if rng.random() < 0.4:
                data["email"] = f"{rng.randint(10**7, 10**10)}@" + rng.choice(
                    ("qq.com", "163.com", "126.com", "sina.com"))
            capacity = min(1e6, float(income) * rng.uniform(3, 12))
        cust = self.add("customer", self.at(onboarded), data, am_id)
        cust.data["_plan"] = {"profile": profile, "loans": [], "apps": [], "am": am_id,
                              "province": province, "capacity": capacity, "onboarded": onboarded}
        if rng.random() < 0.45:
            self.consent(cust, "marketing", onboarded)
        if rng.random() < 0.15:
            self.consent(cust, "data_sharing", onboarded)
        if enterprise and rng.random() < 0.5 or not enterprise and industry != "salaried" \
                and rng.random() < 0.25:
            for _ in range(rng.choice((1, 1, 2))):
                self.related(cust, enterprise, onboarded)
        if rng.random() < 0.92:
            applied = onboarded + timedelta(days=rng.randint(0, 10))
            self.application(cust, products, min(applied, self.today))
        self.finish_customer(cust)

    def birth(self, youngest: int, oldest: int) -> date:
        return self.days_ago(self.rng.randint(youngest * 365 + 10, oldest * 365))

    def contacts(self, name: str) -> list[dict[str, Any]]:
        rows = []
        for i in range(self.rng.choice((1, 1, 2))):
            relation = self.rng.choice(("spouse", "parent", "sibling", "friend", "colleague"))
            contact = self.ids.person()[0]
            if relation in ("parent", "sibling"):  # same family name
                contact = name[0] + contact[1:]
            rows.append({"contact_name": contact, "relation": relation,
                         "phone": self.ids.mobile(), "is_emergency": i == 0,
                         "consent_to_contact": self.rng.random() < 0.8})
        return rows

    def consent(self, cust: _Rec, purpose: str, on: date) -> _Rec:
        signed = self.at(on)
        data = {"customer": cust, "purpose": purpose,
                "signer_name": cust.data.get("legal_representative") or cust.data["name"],
                "channel": self.rng.choice(("paper", "e_signature", "mobile_app", "video")),
                "signed_at": signed, "valid_until": on + timedelta(days=365),
                "evidence": self.evidence_id}
        if purpose == "marketing" and self.rng.random() < 0.1:
            revoked = on + timedelta(days=self.rng.randint(10, 300))
            if revoked < self.today:
                data.update(revoked_at=self.at(revoked),
                            revocation_reason="客户来电要求停止营销推送")
        return self.add("consent", signed, data, cust.owner)

    def related(self, cust: _Rec, enterprise: bool, on: date) -> None:
        rng = self.rng
        county = self.ids.county(cust.data["_plan"]["province"])
        relation = rng.choice(("supply_chain", "guarantee")) if enterprise \
            else rng.choice(("legal_rep", "shareholder"))
        data: dict[str, Any] = {
            "customer": cust, "enterprise_name": self.ids.firm(county, rng.choice(list(TRADES))),
            "uscc": self.ids.uscc(county), "relation": relation,
            "business_status": rng.choices(("active", "abnormal", "revoked"),
                                           weights=(90, 8, 2))[0],
            "last_checked_at": self.at(self.days_ago(rng.randint(1, 30)))}
        if relation == "shareholder":
            data["shareholding"] = Decimal(rng.randint(500, 9000)) / 100
        if rng.random() < 0.1:
            found = self.days_ago(rng.randint(5, 300))
            data.update(negative_news=True, negative_news_on=max(found, on),
                        negative_news_note=rng.choice(("被列入被执行人名单", "涉及买卖合同纠纷诉讼",
                                                       "媒体报道拖欠供应商货款")))
            cust.data["_plan"]["negative"] = True
        self.add("related_enterprise", self.at(on), data, cust.owner)

    def application(self, cust: _Rec, products: list[_Rec], applied: date) -> None:
        rng, plan, today = self.rng, cust.data["_plan"], self.today
        enterprise = cust.data["customer_type"] == "enterprise"
        share = "share_enterprise" if enterprise else "share_individual"
        product = rng.choices(products, weights=[p.data["_spec"][share] for p in products])[0]
        spec = product.data["_spec"]
        low, high = float(spec["min_amount"]), float(spec["max_amount"])
        amount = _money(min(high, max(low, plan["capacity"] * rng.uniform(0.3, 1.0))),
                        10000 if enterprise else 1000)
        amount = min(max(amount, Decimal(spec["min_amount"])), Decimal(spec["max_amount"]))
        term = rng.choice(spec["terms"])
        method = rng.choice(spec["guarantee_methods"])
        applied_at = self.at(applied)
        data: dict[str, Any] = {
            "customer": cust, "product": product, "amount": amount, "term_months": term,
            "rate": spec["annual_rate"], "guarantee_method": method,
            "purpose": rng.choice(("working_capital", "inventory", "equipment", "expansion"))
            if enterprise or spec["product_type"] != "personal_consumer"
            else rng.choice(("consumption", "home_renovation", "education", "medical")),
            "applied_at": applied_at, "account_manager": plan["am"]}
        self.pledges(cust, data, method, amount, spec, applied)
        decided = applied + timedelta(days=rng.randint(2, 15 if enterprise else 8))
        disbursed = decided + timedelta(days=rng.randint(1, 5))
        # The bureau score drives the decision: below 560 the query says "reject".
        score = max(300, min(900, int(rng.gauss({"a": 760, "b": 690, "c": 620, "d": 560}[
            cust.data["rating"]], 45))))
        rejected = score < 560 or rng.random() < 0.04
        if applied == today:
            status = rng.choice(("draft", "submitted"))
        elif rng.random() < 0.03:
            status = "withdrawn"
        elif today <= applied + timedelta(days=1):
            status = "screening"
        elif today < decided:
            status = "in_approval"
        elif rejected:
            status = "rejected"
        else:
            status = "approved" if today < disbursed else "disbursed"
        data["status"] = status
        plan["apps"].append(status)
        signed = max(plan["onboarded"], applied - timedelta(days=rng.randint(0, 2)))
        consent = self.consent(cust, "credit_bureau_query", signed)
        app = self.add("loan_application", applied_at, data, cust.owner)
        if status in ("draft", "submitted", "withdrawn"):
            return
        queried = applied + timedelta(days=1)
        self.add("bureau_query", self.at(queried), {
            "customer": cust, "application": app, "consent": consent,
            "query_type": "enterprise" if enterprise else "personal",
            "bureau": rng.choice(("pboc", "pboc", "baihang")), "query_reason": "loan_approval",
            "queried_at": self.at(queried), "queried_by": rng.choice(self.users["risk_officer"]),
            "score": score, "overdue_accounts": 0 if score > 650 else rng.randint(0, 3),
            "max_overdue_months_24m": 0 if score > 700 else rng.randint(0, 4),
            "total_debt": _money(float(amount) * rng.uniform(0, 2)),
            "inquiries_6m": rng.randint(0, 8), "court_records": 0 if score > 600 else 1,
            "result": "pass" if score >= 650 else "review" if score >= 560 else "reject",
            "raw_reference": f"CR{queried:%Y%m%d}{rng.randint(10**7, 10**8 - 1)}"}, cust.owner)
        if status in ("screening",):
            return
        level = "low" if score >= 700 else "medium" if score >= 600 else "high"
        data.update(risk_score=score, risk_level=level, risk_opinion=OPINIONS[level])
        if status == "in_approval":
            return
        data.update(decision_at=self.at(decided))
        if status == "rejected":
            data["decision_reason"] = rng.choice(REJECTIONS)
            return
        cut = Decimal(1) if level == "low" else Decimal(rng.choice((80, 90, 100))) / 100
        approved = max(Decimal(spec["min_amount"]), _money(amount * cut))
        rate = min(Decimal(24), Decimal(spec["annual_rate"]) + {
            "a": Decimal("-0.5"), "b": ZERO, "c": Decimal("1"), "d": Decimal("2")}[
                cust.data["rating"]])
        data.update(approved_amount=approved, approved_term_months=term, approved_rate=rate,
                    decision_reason="符合准入标准，同意放款。")
        if status == "disbursed":
            self.loan(cust, app, product, approved, rate, term, disbursed)

    def pledges(self, cust: _Rec, data: dict[str, Any], method: str, amount: Decimal,
                spec: dict[str, Any], applied: date) -> None:
        rng, on = self.rng, applied - timedelta(days=1)
        plan = cust.data["_plan"]
        if method == "guarantee":
            rows = []
            for _ in range(rng.choice((1, 1, 2))):
                company = cust.data["customer_type"] == "enterprise" and rng.random() < 0.5
                g: dict[str, Any] = {"customer": cust, "mobile": self.ids.mobile(),
                                     "guarantee_amount": amount,
                                     "net_assets": _money(float(amount) * rng.uniform(1.5, 6))}
                county = self.ids.county(plan["province"])
                if company:
                    g.update(guarantor_type="enterprise", relation="guarantee_company",
                             name=self.ids.firm(county, "business_services"),
                             uscc=self.ids.uscc(county))
                else:
                    person, male = self.ids.person()
                    g.update(guarantor_type="individual", name=person,
                             relation=rng.choice(("spouse", "relative", "friend", "shareholder")),
                             id_number=self.ids.id_number(plan["province"],
                                                          self.birth(25, 60), male),
                             address=self.ids.address(county))
                rows.append({"guarantor": self.add("guarantor", self.at(on), g, cust.owner),
                             "guarantee_type": "joint_liability", "guaranteed_amount": amount})
            data["guarantees"] = rows
        elif method in ("mortgage", "pledge"):
            kind = {"property_secured": "real_estate", "vehicle_secured": "vehicle"}.get(
                spec["product_type"]) or (rng.choice(("receivable", "deposit", "equipment"))
                                          if method == "pledge" else "real_estate")
            value = _money(float(amount) / rng.uniform(0.45, 0.7))
            county = self.ids.county(plan["province"])
            names = {"real_estate": "住宅房产", "vehicle": "自有车辆", "receivable": "应收账款",
                     "deposit": "定期存单", "equipment": "生产设备"}
            haircut = {"real_estate": 30, "vehicle": 40, "receivable": 20, "deposit": 5,
                       "equipment": 50}[kind]
            collateral = self.add("collateral", self.at(on), {
                "customer": cust, "name": f"{names[kind]}-{cust.data['name'][:12]}",
                "collateral_type": kind, "owner_name": cust.data["name"][:100],
                "ownership_certificate": f"NO.{rng.randint(10**9, 10**10 - 1)}",
                "appraised_value": value, "appraised_on": on, "appraiser": "同致诚资产评估有限公司",
                "haircut": haircut, "location": county, "address": self.ids.address(county),
                "registered": True, "registered_on": on, "status": "available"}, cust.owner)
            plan.setdefault("collateral", []).append(collateral)
            data["collaterals"] = [{"collateral": collateral, "lien_rank": 1,
                                    "secured_amount": amount}]

    def loan(self, cust: _Rec, app: _Rec, product: _Rec, principal: Decimal, rate: Decimal,
             term: int, disbursed: date) -> None:
        rng, plan, spec = self.rng, cust.data["_plan"], product.data["_spec"]
        sim = LoanSimulation(ServicingTerms.from_product(spec), principal, rate, term,
                             disbursed, self.today)
        simulate_borrower(sim, rng, plan["profile"])
        at = self.at(disbursed)
        data: dict[str, Any] = {
            "application": app,  # contract_no: numbered in disbursement order when written
            "customer": cust, "product": product,
            "branch": cust.data["team"].data["branch"], "principal": principal,
            "annual_rate": rate, "term_months": term, "amortization": spec["amortization"],
            "repayment_day": sim.repayment_day, "disbursed_on": disbursed,
            "maturity_date": sim.periods[-1].due_date,
            "disbursement_bank": cust.data["bank_name"],
            "disbursement_account": cust.data["bank_account"], "status": sim.status,
            "outstanding_principal": sim.outstanding, "overdue_amount": sim.overdue_amount,
            "dpd": sim.dpd, "bucket": sim.bucket, "risk_classification": sim.classification,
            "last_repaid_on": sim.last_paid, "account_manager": plan["am"]}
        if sim.status == "settled":
            data["settled_on"] = sim.last_paid
        elif sim.status == "written_off":
            data["written_off_on"] = sim.written_off_on
        loan = self.add("loan", at, data, cust.owner)
        inst_recs = []
        for index, inst in enumerate(sim.installments):
            inst_recs.append(self.add("installment", at, {
                "loan": loan, "customer": cust, "period_no": inst.period.period_no,
                "due_date": inst.period.due_date, "principal_due": inst.principal_due,
                "interest_due": inst.interest_due, "fee_due": inst.fee_due,
                "penalty_due": inst.penalty_due, "principal_paid": inst.paid["principal"],
                "interest_paid": inst.paid["interest"], "fee_paid": inst.paid["fee"],
                "penalty_paid": inst.paid["penalty"], "paid_in_full_on": inst.paid_on,
                "overdue_days": sim.overdue_days(index), "status": sim.statuses[index]},
                cust.owner))
        channels = ("auto_debit", "bank_transfer", "third_party", "cash")
        for payment in sim.payments:
            channel = rng.choices(channels, weights=(50, 30, 15, 5))[0]
            paid_at = self.at(payment.on, 7, 22)
            data = {"loan": loan, "customer": cust, "paid_at": paid_at, "amount": payment.amount,
                    **payment.parts, "channel": channel, "payment_type": payment.payment_type,
                    "reference_no": f"TX{payment.on:%Y%m%d}{rng.randint(10**9, 10**10 - 1)}",
                    "payer_name": cust.data["name"], "status": "posted",
                    "installment": None if payment.installment is None
                                   else inst_recs[payment.installment]}
            if channel in ("auto_debit", "bank_transfer"):
                data["payer_account"] = cust.data["bank_account"]
            if payment.timing == "early":
                data["remarks"] = "提前结清全部剩余本金"
            self.add("repayment", paid_at, data, cust.owner)
            plan.setdefault("kinds", []).append(payment.timing)
        if sim.dpd > 0:
            self.collection_attempts(cust, loan, sim.dpd)
        plan["loans"].append(sim)
        for collateral in plan.get("collateral", []):
            collateral.data["status"] = "released" if sim.status == "settled" else "pledged"
        plan["collateral"] = []
        if sim.status == "settled" and sim.last_paid and rng.random() < 0.4:
            again = sim.last_paid + timedelta(days=rng.randint(3, 90))
            if again < self.today:
                self.application(cust, [product], again)

    def collection_attempts(self, cust: _Rec, loan: _Rec, dpd: int) -> None:
        """The collection contacts of an overdue loan, by the conduct rules: one a day at
        most, between 09:00 and 20:00, calls with their recording reference; long-overdue
        borrowers end up out of reach."""
        rng = self.rng
        days = sorted(rng.sample(range(1, dpd + 1), min(dpd, rng.randint(1, 6))))
        for n, late in enumerate(days):
            day = self.today - timedelta(days=dpd - late)
            phone = rng.random() < 0.8
            outcome = rng.choices(("answered", "no_answer", "busy", "promise_to_pay",
                                   "refused_to_pay", "wrong_number"),
                                  weights=(25, 30, 10, 25, 7, 3))[0]
            if dpd > 90 and n == len(days) - 1 and rng.random() < 0.5:
                outcome = "lost_contact"
            data: dict[str, Any] = {
                "loan": loan, "customer": cust, "channel": "phone" if phone else "sms",
                "phone_number": cust.data["mobile"], "contacted_at": self.at(day, 9, 20),
                "collector": rng.choice(self.users["collector"]),
                "outcome": outcome if phone else "no_answer"}
            if phone:
                data["recording_ref"] = f"REC{day:%Y%m%d}{rng.randint(10**5, 10**6 - 1)}"
            if data["outcome"] == "promise_to_pay":
                data["promise_date"] = day + timedelta(days=rng.randint(1, 7))
                data["promise_amount"] = loan.data["overdue_amount"]
            self.add("collection_attempt", data["contacted_at"], data, cust.owner)

    def line_request(self, cust: _Rec, account_manager: int) -> None:
        """A line-increase request from a customer with room to grow."""
        rng, data = self.rng, cust.data
        on = self.days_ago(rng.randint(1, 120))
        status = rng.choice(("submitted", "in_review", "approved", "rejected"))
        request: dict[str, Any] = {
            "customer": cust, "current_limit": data["credit_limit"],
            "requested_limit": data["credit_limit"] * Decimal(rng.choice(("1.5", "2"))),
            "reason": rng.choice(("经营规模扩大，需补充流动资金", "旺季备货", "新增订单需要垫资")),
            "status": status, "requested_at": self.at(on), "account_manager": account_manager}
        if status in ("approved", "rejected"):
            decided = min(self.today, on + timedelta(days=rng.randint(1, 10)))
            request["decided_at"] = self.at(decided)
            request["decision_note"] = ("同意提额" if status == "approved"
                                        else "负债率偏高，暂不提额")
        self.add("credit_line_request", request["requested_at"], request, cust.owner)

    def finish_customer(self, cust: _Rec) -> None:
        """Stage, balance, limit and behaviour tags from the customer's simulated history."""
        rng, data, plan = self.rng, cust.data, cust.data.pop("_plan")
        loans: list[LoanSimulation] = plan["loans"]
        open_loans = [s for s in loans if s.status in ("active", "overdue")]
        balance = sum((s.outstanding for s in open_loans), ZERO)
        apps = plan["apps"]
        pending = {"draft": "intent", "submitted": "due_diligence",
                   "screening": "due_diligence", "in_approval": "in_approval",
                   "approved": "in_approval"}
        if open_loans:
            stage = "repaying" if any(s.payments or s.dpd for s in open_loans) else "disbursed"
        elif apps and apps[-1] in pending:
            stage = pending[apps[-1]]
        elif loans:  # settled, or written off and in collection
            stage = "settled" if all(s.status == "settled" for s in loans) else "repaying"
        elif not apps:
            stage = rng.choice(("lead", "lead", "intent"))
        else:  # rejected or withdrawn
            stage = "intent"
        kinds = plan.get("kinds", [])
        tags = []
        big = 3e6 if data["customer_type"] == "enterprise" else 5e5
        if data["rating"] == "a" and plan["capacity"] > big:
            tags.append("vip")
        if "early" in kinds:
            tags.append("early_repayment")
        if any(s.dpd for s in loans) or "late" in kinds[-12:]:
            tags.append("overdue")
        if "last_day,last_day,last_day" in ",".join(kinds):
            tags.append("last_day_repayer")
        if plan.get("negative"):
            tags.append("related_negative_news")
        worst = max((s.dpd for s in loans), default=0)
        if worst > 90 and rng.random() < 0.3:
            tags.append("lost_contact")
        limit = max([_money(plan["capacity"], 10000)] + [  # never below a loan granted
            Decimal(-(-int(s.periods[0].opening_balance) // 10000) * 10000) for s in loans])
        data.update(lifecycle_stage=stage, balance=balance, credit_limit=limit,
                    tags=tags or None)
        if data["rating"] in ("a", "b") and open_loans and rng.random() < 0.2:
            self.line_request(cust, plan["am"])
        if worst > 180 and rng.random() < 0.5:
            data.update(blacklisted=True, blacklist_reason="逾期超过180天，已核销，列入黑名单")


# --- writing -----------------------------------------------------------------------------


def _ids(value: Any) -> Any:
    if isinstance(value, _Rec):
        if value.id is None:  # pragma: no cover - stage order guarantees this
            raise AssertionError(f"{value.form} record is referenced before it was created")
        return value.id
    if isinstance(value, list):
        return [_ids(v) for v in value]
    if isinstance(value, dict):
        return {k: _ids(v) for k, v in value.items()}
    return value


def _ensure_org(session: Session, rng: random.Random, joined: datetime
                ) -> tuple[dict[str, list[int]], dict[int, str], dict[str, int]]:
    """Roles and departments of app.json (inserted when missing) and the demo staff."""
    app = json.loads(_APP_JSON.read_text(encoding="utf-8"))
    roles = {role["key"]: ensure_role(session, role["key"], role["label"],
                                      bool(role.get("superuser"))) for role in app["roles"]}
    departments: dict[str, int] = {}

    def walk(nodes: list[dict[str, Any]], parent: int | None) -> None:
        for node in nodes:
            departments[node["name"]] = ensure_department(session, node["name"], parent)
            walk(node.get("children", []), departments[node["name"]])

    walk(app["departments"], None)
    staff = [(role, f"{prefix}{i:02d}", dept) for role, prefix, count, dept in STAFF
             for i in range(1, count + 1)]
    staff += [("account_manager", f"am{i:02d}", team) for i, team in enumerate(AM_TEAMS, 1)]
    password: str | None = None
    users: dict[str, list[int]] = {}
    am_teams: dict[int, str] = {}
    heads: dict[str, int] = {}
    for role, username, dept in staff:
        surname = rng.choice(SURNAMES[:40])
        display = (surname + rng.choice(MALE_GIVEN + FEMALE_GIVEN)
                   + rng.choice(NEUTRAL_GIVEN + MALE_GIVEN))
        uid = session.execute(select(db.user.c.id).where(db.user.c.username == username)
                              ).scalar()
        if uid is None:
            password = password or hash_password(DEMO_PASSWORD)  # hashed once, shared
            uid = session.execute(insert(db.user).values(
                username=username, display_name=display, password_hash=password,
                department_id=departments[dept], language="zh", is_active=True,
                failed_logins=0, created_at=joined).returning(db.user.c.id)).scalar_one()
        linked = session.execute(select(db.user_role.c.user_id).where(
            db.user_role.c.user_id == uid, db.user_role.c.role_id == roles[role])).first()
        if linked is None:
            session.execute(insert(db.user_role).values(user_id=uid, role_id=roles[role]))
        users.setdefault(role, []).append(uid)
        heads.setdefault(dept, uid)
        if role == "account_manager":
            am_teams[uid] = dept
    for name, uid in heads.items():
        session.execute(update(db.department).where(
            db.department.c.id == departments[name], db.department.c.head_user_id.is_(None)
        ).values(head_user_id=uid))
    return users, am_teams, heads


def _specimen_file(session: Session, schema: CompiledSchema, upload_dir: Path | None,
                   at: datetime) -> int:
    """The stored file every demo consent's (required) evidence points at: a real file in the
    upload directory, stored like any upload (without ``upload_dir`` only its row, for tests)."""
    content = b"%PDF-1.4\n% LendBase demo consent specimen\n%%EOF\n"
    if upload_dir is not None:
        store = FileStore(session, upload_dir, 1024 * 1024)
        evidence = schema["consent"].form.field("evidence")
        return store.save("consent", evidence, io.BytesIO(content), "授权书样本.pdf",
                          "application/pdf", None)
    return session.execute(insert(db.stored_file).values(
        form_key="consent", field_key="evidence", filename="授权书样本.pdf",
        content_type="application/pdf", size=len(content),
        sha256=hashlib.sha256(content).hexdigest(), path="demo/consent-specimen.pdf",
        uploaded_by=None, uploaded_at=at).returning(db.stored_file.c.id)).scalar_one()


def _plan_seed(session: Session, schema: CompiledSchema, planner: _Planner,
               at: datetime) -> None:
    """The app's seed records (delinquency buckets...) in forms still empty: a database made
    without ``lendbase app install`` gets them with the demo."""
    seed = json.loads(_APP_JSON.read_text(encoding="utf-8")).get("seed", {})
    for form_key, rows in seed.items():
        if session.execute(select(schema[form_key].table.c.id).limit(1)).first() is None:
            for row in rows:
                planner.add(form_key, at, dict(row))


def generate_demo(session: Session, schema: CompiledSchema, cipher: FieldCipher, *,
                  seed: int = 2026, customers: int = 2000, today: date | None = None,
                  progress: Callable[[str], None] | None = None,
                  upload_dir: Path | None = None) -> DemoSummary:
    """Create the demo organisation and portfolio in the session (the caller commits).

    Same ``seed``, ``customers`` and ``today`` (the business date) give identical data.
    Raises ``Conflict`` when the database already holds customers: the demo goes into an
    empty installation.
    """
    started = time.perf_counter()
    say = progress or (lambda _message: None)
    business_date = today or datetime.now(TZ).date()  # the business day in Shanghai, not UTC
    rng = random.Random(seed)
    customer_table = schema["customer"].table
    if session.execute(select(func.count()).select_from(customer_table)).scalar():
        raise Conflict("the database already holds customers; generate the demo portfolio "
                       "into a fresh database (run `lendbase init` on a new one first)")
    stage_seconds: dict[str, float] = {}
    clock_now = [datetime.now(UTC)]
    service = RecordService(session, schema, Actor.system(), cipher, clock=lambda: clock_now[0])

    mark = time.perf_counter()
    origin = business_date - timedelta(days=_HISTORY_DAYS + 30 + 2 * 365)
    joined = datetime(origin.year, origin.month, origin.day, 9, tzinfo=TZ)
    users, am_teams, heads = _ensure_org(session, rng, joined)
    specimen = _specimen_file(session, schema, upload_dir, joined)
    planner = _Planner(rng, business_date, users, am_teams, specimen)
    org, products = planner.structure(heads)
    _plan_seed(session, schema, planner, joined)
    for _ in range(customers):
        planner.customer(org, products)
    for product in products:
        product.data.pop("_spec")
    stage_seconds["plan"] = time.perf_counter() - mark
    user_count = sum(len(v) for v in users.values())
    say(f"organisation: {user_count} users; planned {len(planner.recs)} records "
        f"({stage_seconds['plan']:.1f} s)")

    counts: Counter[str] = Counter()
    by_form: dict[str, list[_Rec]] = {}
    for rec in planner.recs:
        by_form.setdefault(rec.form, []).append(rec)
    for form_key in by_form:
        by_form[form_key].sort(key=lambda r: r.at)  # stable: ties keep planning order
    for number, rec in enumerate(by_form.get("loan", []), start=1):
        rec.data["contract_no"] = f"HT{rec.at:%Y%m}{number:06d}"
    for form_key in json.loads(_APP_JSON.read_text(encoding="utf-8"))["forms"]:
        mark = time.perf_counter()
        for rec in by_form.get(form_key, []):
            clock_now[0] = rec.at.astimezone(UTC)
            data = {k: _ids(v) for k, v in rec.data.items() if v is not None}
            rec.id = service.create(form_key, data, owner_id=rec.owner)["id"]
            counts[form_key] += 1
        stage_seconds[form_key] = time.perf_counter() - mark
        say(f"{form_key}: {counts[form_key]} records ({stage_seconds[form_key]:.1f} s)")
    kinds = Counter(_kind_of(rec) for rec in by_form.get("repayment", []))
    return DemoSummary(seed=seed, business_date=business_date, counts=dict(counts),
                       users=user_count, repayment_kinds=dict(sorted(kinds.items())),
                       stage_seconds=stage_seconds, seconds=time.perf_counter() - started)


def _kind_of(rec: _Rec) -> str:
    """early / on_time / last_day / late, from the payment and its installment's due date."""
    if rec.data["payment_type"] == "early":
        return "early"
    due = rec.data["installment"].data["due_date"]
    paid = rec.data["paid_at"].date()
    return "on_time" if paid < due else "last_day" if paid == due else "late"
