"""Reference data of the credit template's demo, and the valid, unique identities drawn from it.

Names, regions' roads, firms and trades, banks, mobile prefixes, the demo organisation, the
loan products and the borrower profiles with their weights: everything that makes the demo
look real, kept apart from the planner that decides who does what and when. ``Identities``
draws names, mobiles, addresses, resident ID numbers and unified social credit codes that
pass ``lendbase.forms.checks`` and are never repeated within a demo. Pure: no I/O; every
random value comes from the caller's ``random.Random``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date
from typing import Any

from lendbase.forms import checks

__all__ = [
    "AM_TEAMS",
    "BANKS",
    "BRANCHES",
    "DEMO_ONLY_KEYS",
    "FEMALE_GIVEN",
    "FIRM_NAMES",
    "MALE_GIVEN",
    "MOBILE_PREFIXES",
    "NEUTRAL_GIVEN",
    "OPINIONS",
    "OTHER_TEAMS",
    "PRODUCTS",
    "PROFILES",
    "RATINGS",
    "REJECTIONS",
    "ROADS",
    "SALES_TEAMS",
    "STAFF",
    "SURNAMES",
    "SURNAME_CUM_WEIGHTS",
    "TRADES",
    "Identities",
    "random_bank_account",
    "random_id_number",
    "random_uscc",
]

# --- people, places, firms ---------------------------------------------------------------

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余"
            "杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙"
            "史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
MALE_GIVEN = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆旭宁龙林阳峰建国志文博诚翔毅"
FEMALE_GIVEN = "芳娜敏静丽艳娟霞秀燕玲桂丹萍红莉婷雪琳晶颖慧倩琴云洁玉梅兰欣怡佳悦蕾"
NEUTRAL_GIVEN = "子晨思雨一嘉海天新春晓宏永立少家金小德"
#: Common surnames are much more common (roughly Zipf): cumulative weights for ``choices``.
SURNAME_CUM_WEIGHTS = [sum(1 / (k + 6) for k in range(i + 1)) for i in range(len(SURNAMES))]
FIRM_NAMES = ("恒信 华瑞 鑫源 宏达 金泰 盛世 永安 东方 中诚 瑞丰 嘉禾 天元 博远 汇通 锦程 新锐 "
              "德润 安泰 广联 联创 亿达 顺发 鼎盛 和美 星辉 正阳 润丰 佳禾 万通 立信 同创 远航 "
              "精工 明德").split()
TRADES = {
    "manufacturing": ("机械制造", "电子科技", "五金制品", "塑胶制品", "纺织"),
    "wholesale_retail": ("商贸", "贸易", "百货", "食品销售"),
    "construction": ("建筑工程", "装饰工程"),
    "transport_logistics": ("物流", "运输"),
    "hospitality_catering": ("餐饮管理", "酒店管理"),
    "it_services": ("信息技术", "网络科技", "软件"),
    "agriculture": ("农业科技", "生态农业"),
    "business_services": ("企业管理咨询", "广告"),
    "resident_services": ("家政服务", "美容美发"),
}
ROADS = ("人民路 解放路 中山路 建设路 和平路 新华路 文化路 长江路 黄河路 胜利路 青年路 "
         "光明路 朝阳路 滨江路 学府路 科技路 迎宾大道 世纪大道 工业园路 环城东路").split()
BANKS = (("中国工商银行", "622202"), ("中国建设银行", "621700"), ("中国农业银行", "622848"),
         ("中国银行", "621661"), ("招商银行", "622588"), ("交通银行", "622262"),
         ("兴业银行", "622909"), ("浦发银行", "622521"))
MOBILE_PREFIXES = ("130 131 132 133 135 136 137 138 139 150 151 152 153 155 156 157 158 159 "
                   "166 170 173 175 176 177 178 180 181 182 183 185 186 187 188 189 191 198 "
                   "199").split()

#: Organisation: department -> (branch code, branch name, provinces its customers live in).
SALES_TEAMS = {"华东一组": "华东分部", "华东二组": "华东分部", "华南一组": "华南分部",
               "华南二组": "华南分部", "西南一组": "西南分部"}
BRANCHES = (  # code, name (= department), level, province, customer provinces
    ("HQ", "总部", "head_office", "310000", ()),
    ("EAST", "华东分部", "branch", "330000", ("310000", "320000", "330000")),
    ("SOUTH", "华南分部", "branch", "440000", ("440000", "350000")),
    ("SOUTHWEST", "西南分部", "branch", "510000", ("510000", "500000")),
)
OTHER_TEAMS = (("审批组", "risk"), ("风控组", "risk"), ("催收一组", "collection"),
               ("财务部", "operations"))
STAFF = (  # role, username prefix, count, department
    ("manager", "mg", 1, "总部"), ("risk_officer", "ro", 3, "风控组"),
    ("approver", "ap", 3, "审批组"), ("collector", "co", 4, "催收一组"),
    ("finance", "fi", 2, "财务部"))
AM_TEAMS = ("华东一组",) * 3 + ("华东二组",) * 3 + ("华南一组",) * 2 + ("华南二组",) * 2 \
    + ("西南一组",) * 2

#: Loan products; ``terms`` (offered terms, drawn with repetition as weights) and
#: ``share_individual`` / ``share_enterprise`` are demo-only and not written.
PRODUCTS: tuple[dict[str, Any], ...] = (
    dict(code="XF-01", name="薪享消费贷", product_type="personal_consumer",
         customer_scope="individual", amortization="equal_installment",
         guarantee_methods=["credit"], annual_rate="14.4", min_amount="10000",
         max_amount="300000", min_term_months=6, max_term_months=36, grace_days=3,
         tolerance_amount="10.00", penalty_rate="21.6", fee_charge_mode="none",
         prepayment_allowed=True, prepayment_fee_rate="1", terms=(6, 12, 12, 12, 24, 36),
         share_individual=35, share_enterprise=0),
    dict(code="KD-02", name="极速信用快贷", product_type="personal_consumer",
         customer_scope="individual", amortization="equal_installment",
         guarantee_methods=["credit"], annual_rate="18", min_amount="5000", max_amount="50000",
         min_term_months=3, max_term_months=12, grace_days=1, tolerance_amount="5.00",
         penalty_rate="27", fee_charge_mode="per_installment", fee_rate="0.2",
         prepayment_allowed=True, prepayment_fee_rate="0", terms=(3, 6, 6, 12),
         share_individual=25, share_enterprise=0),
    dict(code="JY-03", name="个体经营贷", product_type="personal_business",
         customer_scope="individual", amortization="equal_principal",
         guarantee_methods=["credit", "guarantee"], annual_rate="9.6", min_amount="50000",
         max_amount="1000000", min_term_months=12, max_term_months=36, grace_days=3,
         tolerance_amount="10.00", penalty_rate="14.4", fee_charge_mode="upfront",
         fee_rate="1", prepayment_allowed=True, prepayment_fee_rate="1",
         terms=(12, 12, 24, 36), share_individual=20, share_enterprise=0),
    dict(code="LZ-04", name="小微流动资金贷", product_type="sme_working_capital",
         customer_scope="enterprise", amortization="interest_only",
         guarantee_methods=["guarantee", "mortgage"], annual_rate="8.5",
         min_amount="200000", max_amount="5000000", min_term_months=6, max_term_months=24,
         grace_days=5, tolerance_amount="50.00", penalty_rate="12.75",
         fee_charge_mode="none", prepayment_allowed=True, prepayment_fee_rate="0.5",
         terms=(6, 12, 12, 24), share_individual=0, share_enterprise=45),
    dict(code="GYL-05", name="应收账款融资", product_type="supply_chain",
         customer_scope="enterprise", amortization="bullet", guarantee_methods=["pledge"],
         annual_rate="7.2", min_amount="100000", max_amount="3000000", min_term_months=3,
         max_term_months=12, grace_days=3, tolerance_amount="50.00", penalty_rate="10.8",
         fee_charge_mode="upfront", fee_rate="0.5", prepayment_allowed=True,
         prepayment_fee_rate="0", terms=(3, 6, 6, 12), share_individual=0,
         share_enterprise=30),
    dict(code="FD-06", name="房产抵押贷", product_type="property_secured", customer_scope="both",
         amortization="equal_installment", guarantee_methods=["mortgage"], annual_rate="6.8",
         min_amount="200000", max_amount="5000000", min_term_months=12,
         max_term_months=120, grace_days=5, tolerance_amount="10.00", penalty_rate="10.2",
         fee_charge_mode="none", prepayment_allowed=True, prepayment_fee_rate="2",
         terms=(24, 36, 36, 60), share_individual=10, share_enterprise=15),
    dict(code="CD-07", name="车辆抵押贷", product_type="vehicle_secured", customer_scope="both",
         amortization="equal_installment", guarantee_methods=["mortgage"], annual_rate="12",
         min_amount="30000", max_amount="500000", min_term_months=12, max_term_months=36,
         grace_days=3, tolerance_amount="10.00", penalty_rate="18", fee_charge_mode="none",
         prepayment_allowed=False, terms=(12, 24, 24, 36), share_individual=10,
         share_enterprise=10),
)
DEMO_ONLY_KEYS = ("terms", "share_individual", "share_enterprise")

#: Repayment behaviour of a borrower and the ratings that go with it (weights).
PROFILES = {"prompt": 52, "last_day": 10, "settler": 9, "late": 20, "default": 9}
RATINGS = {"prompt": (45, 40, 12, 3), "last_day": (25, 50, 20, 5), "settler": (55, 35, 8, 2),
           "late": (10, 40, 38, 12), "default": (3, 22, 45, 30)}
REJECTIONS = ("征信报告显示近两年存在多次逾期", "负债收入比过高，还款能力不足",
              "经营流水无法覆盖还款", "涉诉记录较多，司法风险高", "申请资料真实性存疑")
OPINIONS = {"low": "征信良好，收入稳定，建议按申请额度审批。",
            "medium": "征信有少量查询记录，还款能力尚可，建议适度压降额度。",
            "high": "负债偏高且有逾期记录，需加强担保或拒绝。"}


# --- identity values (pure, checked with lendbase.forms.checks) ---------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def random_id_number(rng: random.Random, county: str, born: date, male: bool,
                     today: date) -> str:
    """A resident ID number (GB 11643) of ``county``, ``born`` on that day, of that sex."""
    order = rng.randrange(0, 100) * 10 + rng.randrange(1 if male else 0, 10, 2)
    body = f"{county}{born:%Y%m%d}{order:03d}"
    number = body + "10X98765432"[sum(int(c) * w for c, w in
                                      zip(body, _ID_WEIGHTS, strict=True)) % 11]
    error = checks.check_id_number(number, today)
    if error:  # pragma: no cover - would be a bug in this generator
        raise AssertionError(f"generated ID number {number} is invalid: {error}")
    return number


def random_uscc(rng: random.Random, county: str) -> str:
    """A unified social credit code (GB 32100) of an enterprise registered in ``county``."""
    # Organisation code (GB 11714): 8 digits and a check digit, 11 - weighted sum mod 11.
    org = "".join(rng.choice("0123456789") for _ in range(8))
    check = 11 - sum(int(c) * w for c, w in zip(org, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    body = "91" + county + org + {10: "X", 11: "0"}.get(check, str(check))
    values = {c: i for i, c in enumerate(checks.USCC_ALPHABET)}
    total = sum(values[c] * pow(3, i, 31) for i, c in enumerate(body))
    code = body + checks.USCC_ALPHABET[(31 - total % 31) % 31]
    error = checks.check_uscc(code)
    if error:  # pragma: no cover
        raise AssertionError(f"generated credit code {code} is invalid: {error}")
    return code


def random_bank_account(rng: random.Random) -> tuple[str, str]:
    """A bank name and a 19-digit card number with a valid Luhn check digit."""
    bank, bin_ = rng.choice(BANKS)
    body = bin_ + "".join(rng.choice("0123456789") for _ in range(12))
    total = 0
    for i, c in enumerate(reversed(body)):
        d = int(c) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return bank, body + str((10 - total % 10) % 10)


class Identities:
    """Valid identities for the demo's people and firms, none handed out twice.

    Draws only from ``rng``, so a seeded ``Random`` gives the same identities in the same
    order; ``today`` is the business date ID numbers are checked against.
    """

    def __init__(self, rng: random.Random, today: date) -> None:
        self.rng, self.today = rng, today
        self.taken: dict[str, set[str]] = {"id": set(), "uscc": set(), "mobile": set(),
                                           "firm": set()}

    def unique(self, kind: str, make: Callable[[], str]) -> str:
        """``make()`` until it gives a ``kind`` of value not handed out before."""
        value = make()
        while value in self.taken[kind]:
            value = make()
        self.taken[kind].add(value)
        return value

    def person(self, male: bool | None = None) -> tuple[str, bool]:
        """A Chinese name (surname roughly Zipf-distributed) and the person's sex."""
        rng = self.rng
        male = rng.random() < 0.55 if male is None else male
        surname = rng.choices(SURNAMES, cum_weights=SURNAME_CUM_WEIGHTS)[0]
        pool = (MALE_GIVEN if male else FEMALE_GIVEN) + NEUTRAL_GIVEN
        given = rng.choice(pool) + (rng.choice(pool) if rng.random() < 0.7 else "")
        return surname + given, male

    def mobile(self) -> str:
        return self.unique("mobile", lambda: self.rng.choice(MOBILE_PREFIXES) + "".join(
            self.rng.choice("0123456789") for _ in range(8)))

    def county(self, province: str) -> str:
        """A county-level region code in ``province``."""
        code = self.rng.choice(checks.region_children(province))[0]
        below = checks.region_children(code)
        return self.rng.choice(below)[0] if below else code

    def address(self, county: str) -> str:
        names = "".join(checks.region_name(c) or "" for c in checks.region_path(county))
        return f"{names}{self.rng.choice(ROADS)}{self.rng.randint(1, 999)}号"

    def firm(self, county: str, industry: str) -> str:
        """A company name of the county's city and a trade of ``industry``."""
        path = checks.region_path(county)  # province, city, county (or province, county)
        city = (checks.region_name(path[1] if len(path) == 3 else path[0]) or "")
        city = city.removesuffix("市")
        trade = TRADES.get(industry, TRADES["wholesale_retail"])
        return self.unique("firm", lambda: f"{city}{self.rng.choice(FIRM_NAMES)}"
                           f"{self.rng.choice(trade)}有限公司")

    def id_number(self, province: str, born: date, male: bool) -> str:
        """An ID number; one in four people was born outside ``province``."""
        if self.rng.random() < 0.25:  # born elsewhere in China
            province = self.rng.choice([p for p, _ in checks.region_children(None)
                                        if checks.region_children(p)])
        return self.unique("id", lambda: random_id_number(
            self.rng, self.county(province), born, male, self.today))

    def uscc(self, county: str) -> str:
        return self.unique("uscc", lambda: random_uscc(self.rng, county))
