//! Realistic synthetic customers, deterministic from a seed: Chinese names, GB 11643-valid ID
//! numbers that agree with birth date and gender, mobiles, addresses down to the street,
//! Luhn-valid UnionPay card numbers, holdings with a skewed wealth distribution (so every tier
//! is populated) and transactions over all channels.

use pcis_domain::customer::CustomerInput;
use pcis_domain::identity::{Gender, check_character, luhn_valid};
use pcis_service::bootstrap::{SeedAccount, SeedCustomer, SeedTransaction};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use time::{Date, Duration, Month, OffsetDateTime};

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
        Self { rng: StdRng::seed_from_u64(seed), today }
    }

    /// A Luhn-valid 19-digit UnionPay number with the given 6-digit issuer prefix.
    pub fn card_number(&mut self, prefix: &str) -> String {
        loop {
            let mut n = prefix.to_owned();
            while n.len() < 18 {
                n.push(char::from(b'0' + self.rng.gen_range(0..10u8)));
            }
            for d in 0..10u8 {
                let candidate = format!("{n}{d}");
                if luhn_valid(&candidate) {
                    return candidate;
                }
            }
        }
    }

    pub fn customer(&mut self, customer_no: String, outlet: &Outlet) -> SeedCustomer {
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
        let seq = rng.gen_range(0..500u32) * 2 + u32::from(gender == Gender::Male);
        let first17 = format!(
            "{}{:04}{:02}{:02}{:03}",
            outlet.region,
            birth.year(),
            u8::from(birth.month()),
            birth.day(),
            seq
        );
        let id = format!("{first17}{}", char::from(check_character(first17.as_bytes())));
        let mobile = format!(
            "1{}{:09}",
            pick(rng, &["38", "39", "50", "58", "86", "88", "77", "36"]),
            rng.gen_range(0..1_000_000_000u32)
        )[..11]
            .to_owned();
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
        let mut accounts = vec![self.account("demand", "活期储蓄", wealth_yuan * 0.3)];
        let products: [(&'static str, &str, f64, f64); 6] = [
            ("time", "整存整取三年期", 0.5, 0.35),
            ("wealth", "稳健理财180天", 0.3, 0.2),
            ("fund", "沪深300指数基金", 0.25, 0.1),
            ("insurance", "年金保险", 0.1, 0.05),
            ("bond", "储蓄国债（电子式）", 0.08, 0.1),
            ("loan", "个人住房贷款", 0.15, 0.0),
        ];
        for (kind, product, p, share) in products {
            if self.rng.gen_bool(p) {
                let amount = if kind == "loan" {
                    self.rng.gen_range(200_000.0..2_000_000.0)
                } else {
                    wealth_yuan * share
                };
                accounts.push(self.account(kind, product, amount));
            }
        }
        let rng = &mut self.rng;
        let now = OffsetDateTime::now_utc();
        let mut transactions: Vec<SeedTransaction> = (0..rng.gen_range(4..16))
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
                    account: 0,
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

    fn account(&mut self, kind: &'static str, product: &str, yuan: f64) -> SeedAccount {
        let opened = self.today - Duration::days(self.rng.gen_range(30..4000));
        let matures = matches!(kind, "time" | "wealth" | "bond" | "loan")
            .then(|| (self.today + Duration::days(self.rng.gen_range(10..1500))).to_string());
        SeedAccount {
            number: self.card_number("622202"),
            product_type: kind,
            product_code: format!("{}{:03}", kind.to_uppercase(), self.rng.gen_range(1..50)),
            product_name: product.into(),
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
        for n in 0..200 {
            let c = a.customer(format!("C{n:09}"), &outlet);
            c.input.parse(None).unwrap();
            for acc in &c.accounts {
                assert!(luhn_valid(&acc.number));
            }
            assert_eq!(c.input.id_number, b.customer(format!("C{n:09}"), &outlet).input.id_number);
        }
    }
}
