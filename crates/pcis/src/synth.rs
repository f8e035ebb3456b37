//! Realistic synthetic customers, deterministic from a seed: Chinese names, GB 11643-valid ID
//! numbers that agree with birth date and gender, mobiles, addresses down to the street,
//! Luhn-valid UnionPay card numbers, holdings with a skewed wealth distribution (so every tier
//! is populated) and transactions over all channels. ID numbers, mobiles, fixed-line numbers
//! and card numbers never repeat by chance, so every shared contact in generated data is one
//! that was planted on purpose (R-ETL-4 tests count on it).

use std::collections::HashSet;

use pcis_domain::customer::CustomerInput;
use pcis_domain::identity::{Gender, check_character, luhn_valid};
use pcis_service::bootstrap::{SeedAccount, SeedCustomer, SeedTransaction};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use time::{Date, Duration, Month};

const SURNAMES: &str = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦傅方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴莫孔汤";
const GIVEN_MALE: &str = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆帅旭宁龙林欢阳建国志";
const GIVEN_FEMALE: &str = "芳娜敏静丽艳娟霞秀玲桂英婷雪慧琳颖倩洁琴云莉兰燕红梅晶萍瑶佳蕾";
const STREETS: &[&str] = &["中山路", "人民路", "解放路", "建设路", "和平路", "文化路", "新华路", "长江路"];
const OCCUPATIONS: &[&str] =
    &["企业职员", "公务员", "教师", "医生", "个体工商户", "工程师", "退休", "自由职业"];
const EDUCATION: &[&str] = &["高中", "大专", "本科", "硕士", "博士"];
const MARITAL: &[&str] = &["未婚", "已婚", "离异", "丧偶"];
const RISK: &[&str] = &["C1", "C2", "C3", "C4", "C5"];
const CHANNELS: &[&str] = &["counter", "atm", "online", "mobile", "pos"];
const MOBILE_PREFIXES: [&str; 8] = ["38", "39", "50", "58", "86", "88", "77", "36"];

/// The product catalogue: (code, type, name, currency, risk level).
pub const PRODUCTS: [(&str, &str, &str, &str, &str); 8] = [
    ("D001", "demand", "活期储蓄", "CNY", "R1"),
    ("T303", "time", "整存整取三年期", "CNY", "R1"),
    ("W180", "wealth", "稳健理财180天", "CNY", "R2"),
    ("F300", "fund", "沪深300指数基金", "CNY", "R4"),
    ("I010", "insurance", "年金保险", "CNY", "R2"),
    ("B005", "bond", "储蓄国债（电子式）", "CNY", "R1"),
    ("L030", "loan", "个人住房贷款", "CNY", "R1"),
    ("T101", "time", "整存整取一年期", "CNY", "R1"),
];

/// A bijection of `0..modulus` (a power of ten): multiplying by a constant coprime to ten
/// scatters consecutive numbers while never mapping two to the same one.
fn scatter(n: u64, modulus: u64) -> u64 {
    (n % modulus).wrapping_mul(2_654_435_761) % modulus
}

/// Where generated customers live: an outlet, its province and city names, the GB/T 2260
/// city prefix of the ID numbers issued there, and its district.
pub struct Outlet {
    pub code: String,
    pub province: &'static str,
    pub city: &'static str,
    pub district: String,
    pub region: String,
}

pub struct Synth {
    rng: StdRng,
    today: Date,
    /// (region, birth date, sequence) of every ID number issued, so none repeats.
    ids: HashSet<u64>,
    /// Card numbers issued so far (each from its own counter value).
    cards: u64,
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.gen_range(0..items.len())]
}

fn pick_char(rng: &mut StdRng, s: &str) -> char {
    let chars: Vec<char> = s.chars().collect();
    chars[rng.gen_range(0..chars.len())]
}

impl Synth {
    pub fn new(seed: u64, today: Date) -> Self {
        Self { rng: StdRng::seed_from_u64(seed), today, ids: HashSet::new(), cards: 0 }
    }

    /// A Luhn-valid 19-digit UnionPay number with the given 6-digit issuer prefix, different
    /// from every other one this generator made.
    pub fn card_number(&mut self, prefix: &str) -> String {
        self.cards += 1;
        let body = format!("{prefix}{:012}", scatter(self.cards, 1_000_000_000_000));
        let check = (0..10u8).map(|d| format!("{body}{d}")).find(|c| luhn_valid(c));
        check.expect("one check digit makes any number Luhn-valid")
    }

    /// The `n`th customer's mobile: unique for every `n` below a hundred million.
    pub fn mobile(n: u64) -> String {
        format!("1{}{:08}", MOBILE_PREFIXES[(n % 8) as usize], scatter(n + 1, 100_000_000))
    }

    /// The `n`th customer's fixed-line number in the city with the given area code.
    pub fn phone(n: u64, area: &str) -> String {
        format!("{area}-8{:07}", scatter(n + 1, 10_000_000))
    }

    /// A resident ID number issued in `region` for this birth date and gender, never one
    /// issued before by this generator.
    fn id_number(&mut self, region: &str, birth: Date, gender: Gender) -> String {
        let region_n: u64 = region.parse().expect("six-digit region");
        loop {
            let seq = self.rng.gen_range(0..500u32) * 2 + u32::from(gender == Gender::Male);
            let key =
                (region_n << 32) | (u64::from(birth.to_julian_day().unsigned_abs()) << 10) | u64::from(seq);
            if self.ids.insert(key) {
                let first17 = format!(
                    "{region}{:04}{:02}{:02}{:03}",
                    birth.year(),
                    u8::from(birth.month()),
                    birth.day(),
                    seq
                );
                return format!("{first17}{}", char::from(check_character(first17.as_bytes())));
            }
        }
    }

    /// The `n`th customer (`n` makes its contacts unique).
    pub fn customer(&mut self, n: u64, customer_no: String, outlet: &Outlet) -> SeedCustomer {
        let rng = &mut self.rng;
        let gender = if rng.gen_bool(0.5) { Gender::Male } else { Gender::Female };
        let given = if gender == Gender::Male { GIVEN_MALE } else { GIVEN_FEMALE };
        let mut name = pick_char(rng, SURNAMES).to_string();
        for _ in 0..rng.gen_range(1..=2) {
            name.push(pick_char(rng, given));
        }
        let birth = Date::from_calendar_date(
            rng.gen_range(1950..=2003),
            Month::try_from(rng.gen_range(1..=12u8)).expect("month"),
            rng.gen_range(1..=28),
        )
        .expect("valid date");
        let id = self.id_number(&outlet.region, birth, gender);
        let rng = &mut self.rng;
        let mobile = Self::mobile(n);
        let address = format!(
            "{}{}市{}区{}{}号{}栋{}室",
            outlet.province,
            outlet.city,
            outlet.district,
            pick(rng, STREETS),
            rng.gen_range(1..300),
            rng.gen_range(1..30),
            rng.gen_range(101..2500)
        );
        let input = CustomerInput {
            name,
            gender: gender.code().into(),
            birth_date: birth.to_string(),
            nationality: "中国".into(),
            occupation: (*pick(rng, OCCUPATIONS)).into(),
            education: (*pick(rng, EDUCATION)).into(),
            marital_status: (*pick(rng, MARITAL)).into(),
            id_type: "resident_id".into(),
            id_number: id,
            id_issuer: format!("{}市公安局{}分局", outlet.city, outlet.district),
            id_expiry: format!(
                "{}-{:02}-{:02}",
                self.today.year() + rng.gen_range(1..20),
                birth.month() as u8,
                birth.day()
            ),
            mobile,
            address,
            ..Default::default()
        };
        // Wealth is heavily skewed: most customers hold little, a few hold millions.
        let wealth_yuan = 10f64.powf(rng.gen_range(2.5..6.9));
        let mut accounts = vec![self.account(&PRODUCTS[0], wealth_yuan * 0.3)];
        // (catalogue entry, chance of holding it, share of wealth): about 2.5 accounts each.
        let holdings: [(usize, f64, f64); 7] = [
            (1, 0.4, 0.3),
            (7, 0.2, 0.1),
            (2, 0.35, 0.2),
            (3, 0.25, 0.1),
            (4, 0.12, 0.05),
            (5, 0.08, 0.1),
            (6, 0.1, 0.0),
        ];
        for (product, p, share) in holdings {
            if self.rng.gen_bool(p) {
                let amount = if PRODUCTS[product].1 == "loan" {
                    self.rng.gen_range(200_000.0..2_000_000.0)
                } else {
                    wealth_yuan * share
                };
                accounts.push(self.account(&PRODUCTS[product], amount));
            }
        }
        let rng = &mut self.rng;
        let accounts_held = accounts.len();
        let now = self.today.with_hms(4, 0, 0).expect("valid time").assume_utc();
        let mut transactions: Vec<SeedTransaction> = (0..rng.gen_range(5..=15))
            .map(|_| {
                let channel = *pick(rng, CHANNELS);
                let credit = rng.gen_bool(0.4);
                let amount = rng.gen_range(1_000..(wealth_yuan.min(50_000.0) as i64 * 100).max(2_000));
                let summary = match (channel, credit) {
                    (_, true) if rng.gen_bool(0.5) => "代发工资",
                    (_, true) => "转账存入",
                    ("pos", _) => "消费",
                    ("atm", _) => "取款",
                    _ => "转账支出",
                };
                SeedTransaction {
                    account: rng.gen_range(0..accounts_held.min(2)),
                    at: now - Duration::minutes(rng.gen_range(60..90 * 24 * 60)),
                    amount: if credit { amount } else { -amount },
                    channel,
                    summary: summary.into(),
                }
            })
            .collect();
        transactions.sort_by_key(|t| t.at);
        let mut tags = Vec::new();
        if transactions.iter().any(|t| t.summary == "代发工资") {
            tags.push("代发工资".to_owned());
        }
        if accounts.iter().any(|a| a.product_type == "loan") {
            tags.push("房贷客户".to_owned());
        }
        let risk = Some((*pick(rng, RISK)).to_owned());
        let consent =
            rng.gen_bool(0.7).then(|| (self.today - Duration::days(rng.gen_range(1..2000))).to_string());
        SeedCustomer {
            customer_no,
            input,
            outlet_code: outlet.code.clone(),
            manager: None,
            specialist: None,
            vip_member: false,
            risk_level: risk,
            accounts,
            transactions,
            tags,
            marketing_consent: consent,
        }
    }

    fn account(
        &mut self,
        product: &(&'static str, &'static str, &str, &str, &str),
        yuan: f64,
    ) -> SeedAccount {
        let (code, kind, name, ..) = *product;
        let opened = self.today - Duration::days(self.rng.gen_range(30..4000));
        let matures = matches!(kind, "time" | "wealth" | "bond" | "loan")
            .then(|| (self.today + Duration::days(self.rng.gen_range(10..1500))).to_string());
        SeedAccount {
            number: self.card_number("622202"),
            product_type: kind,
            product_code: code.into(),
            product_name: name.into(),
            balance: (yuan * 100.0).round() as i64,
            opened_on: opened.to_string(),
            matures_on: matures,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_customers_pass_the_same_validation_as_the_ui() {
        let outlet = Outlet {
            code: "3201000101".into(),
            province: "江苏省",
            city: "南京",
            district: "玄武".into(),
            region: "320102".into(),
        };
        let today = Date::from_calendar_date(2026, Month::November, 24).unwrap();
        let mut a = Synth::new(7, today);
        let mut b = Synth::new(7, today);
        for n in 0..200u64 {
            let c = a.customer(n, format!("C{n:09}"), &outlet);
            c.input.parse(None).unwrap();
            for acc in &c.accounts {
                assert!(luhn_valid(&acc.number));
            }
            assert_eq!(c.input.id_number, b.customer(n, format!("C{n:09}"), &outlet).input.id_number);
        }
    }

    #[test]
    fn contacts_and_cards_never_repeat_by_chance() {
        let mobiles: HashSet<String> = (0..100_000).map(Synth::mobile).collect();
        assert_eq!(mobiles.len(), 100_000);
        assert!(mobiles.iter().all(|m| pcis_domain::identity::Mobile::parse(m).is_ok()));
        let phones: HashSet<String> = (0..100_000).map(|n| Synth::phone(n, "025")).collect();
        assert_eq!(phones.len(), 100_000);
        let mut s = Synth::new(1, Date::from_calendar_date(2026, Month::November, 24).unwrap());
        let cards: HashSet<String> = (0..100_000).map(|_| s.card_number("622202")).collect();
        assert_eq!(cards.len(), 100_000);
        assert!(cards.iter().all(|c| luhn_valid(c)));
    }
}
