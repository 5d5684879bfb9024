//! Column roles: what each column means, the header spellings recognised for it, and
//! the resolution of which source column plays each role (with the messages that explain
//! a missing or ambiguous one).

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use anyhow::Result;

use crate::error::bad;

/// A column's meaning. Each maps to a canonical output name, a flag and the header
/// spellings recognised automatically (compared lower-case with non-alphanumerics removed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Customer,
    Date,
    Amount,
    Order,
    Category,
    Quantity,
    Price,
    Signup,
    Channel,
    Cost,
    // invoice lines (`retention subscriptions`)
    PeriodStart,
    PeriodEnd,
    Plan,
    Subscription,
}

impl Role {
    pub fn canonical(self) -> &'static str {
        match self {
            Role::Customer => "customer_id",
            Role::Date => "date",
            Role::Amount => "amount",
            Role::Order => "order_id",
            Role::Category => "category",
            Role::Quantity => "quantity",
            Role::Price => "price",
            Role::Signup => "signup_date",
            Role::Channel => "channel",
            Role::Cost => "acquisition_cost",
            Role::PeriodStart => "period_start",
            Role::PeriodEnd => "period_end",
            Role::Plan => "plan",
            Role::Subscription => "subscription_id",
        }
    }

    pub fn flag(self) -> &'static str {
        match self {
            Role::Customer => "--customer-col",
            Role::Date => "--date-col",
            Role::Amount => "--amount-col",
            Role::Order => "--order-col",
            Role::Category => "--category-col",
            Role::Quantity => "--quantity-col",
            Role::Price => "--price-col",
            Role::Signup => "--signup-col",
            Role::Channel => "--channel-col",
            Role::Cost => "--cost-col",
            Role::PeriodStart => "--period-start-col",
            Role::PeriodEnd => "--period-end-col",
            Role::Plan => "--plan-col",
            Role::Subscription => "--subscription-col",
        }
    }

    pub(super) fn aliases(self) -> &'static [&'static str] {
        match self {
            Role::Customer => &[
                "customerid",
                "customer",
                "clientid",
                "client",
                "userid",
                "custid",
                "customerno",
                "customernumber",
                "buyerid",
                "memberid",
                "accountid",
            ],
            Role::Date => &[
                "date",
                "orderdate",
                "invoicedate",
                "createdat",
                "transactiondate",
                "purchasedate",
                "saledate",
                "orderdatetime",
                "timestamp",
                "datetime",
            ],
            Role::Amount => &[
                "amount",
                "revenue",
                "total",
                "sales",
                "netamount",
                "totalamount",
                "ordertotal",
                "grandtotal",
                "saleamount",
                "netrevenue",
                "linetotal",
                "value",
            ],
            Role::Order => &[
                "orderid",
                "invoiceno",
                "invoice",
                "invoiceid",
                "ordernumber",
                "orderno",
                "transactionid",
                "receiptid",
            ],
            Role::Category => &["category", "productcategory", "categoryname", "department"],
            Role::Quantity => &["quantity", "qty", "units"],
            Role::Price => &["price", "unitprice"],
            Role::Signup => &[
                "signupdate",
                "signup",
                "signedup",
                "signupat",
                "registrationdate",
                "registeredat",
                "joindate",
                "createdat",
            ],
            Role::Channel => &["channel", "acquisitionchannel", "source", "utmsource"],
            Role::Cost => &["acquisitioncost", "cac", "cost"],
            Role::PeriodStart => &[
                "periodstart",
                "servicestart",
                "currentperiodstart",
                "startdate",
                "servicestartdate",
                "periodstartdate",
                "serviceperiodstart",
                "billingperiodstart",
                "periodstartutc",
                "lineitemperiodstart",
                "periodfrom",
                "servicefrom",
            ],
            Role::PeriodEnd => &[
                "periodend",
                "serviceend",
                "currentperiodend",
                "enddate",
                "serviceenddate",
                "periodenddate",
                "serviceperiodend",
                "billingperiodend",
                "periodendutc",
                "lineitemperiodend",
                "periodto",
                "serviceto",
                "serviceuntil",
            ],
            Role::Plan => &[
                "plan",
                "planid",
                "planname",
                "plannickname",
                "priceplan",
                "pricingplan",
                "tier",
            ],
            Role::Subscription => &["subscriptionid", "subscription", "subid", "contractid"],
        }
    }
}

pub(super) const TX_ROLES: [Role; 7] = [
    Role::Customer,
    Role::Date,
    Role::Amount,
    Role::Order,
    Role::Category,
    Role::Quantity,
    Role::Price,
];
/// The transactions' roles plus those of invoice lines.
pub(super) const INVOICE_ROLES: [Role; 11] = [
    Role::Customer,
    Role::Date,
    Role::Amount,
    Role::Order,
    Role::Category,
    Role::Quantity,
    Role::Price,
    Role::PeriodStart,
    Role::PeriodEnd,
    Role::Plan,
    Role::Subscription,
];
pub(super) const CUSTOMER_ROLES: [Role; 4] =
    [Role::Customer, Role::Signup, Role::Channel, Role::Cost];

/// Column names quoted and joined for messages: `'a', 'b'`.
pub(super) fn quoted<S: AsRef<str>>(names: &[S], sep: &str) -> String {
    names
        .iter()
        .map(|n| format!("'{}'", n.as_ref()))
        .collect::<Vec<_>>()
        .join(sep)
}

pub(super) fn normalise(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Resolve which source column plays each role.
pub(super) fn map_roles(
    label: &str,
    names: &[String],
    roles: &[Role],
    required: &[Role],
    overrides: &BTreeMap<Role, String>,
    customers_file: bool,
) -> Result<BTreeMap<Role, String>> {
    let listing = || quoted(names, ", ");
    let mut out = BTreeMap::new();
    let mut taken: HashSet<&str> = HashSet::new();
    for &role in roles {
        if let Some(want) = overrides.get(&role) {
            let found = names
                .iter()
                .find(|n| *n == want)
                .or_else(|| names.iter().find(|n| normalise(n) == normalise(want)));
            match found {
                Some(n) => {
                    taken.insert(n);
                    out.insert(role, n.clone());
                }
                // One --customer-col serves both files; the customers file may spell it
                // differently and falls back to detection.
                None if customers_file && role == Role::Customer => {}
                None => {
                    return Err(bad(format!(
                        "{label}: column '{want}' (given for {}) not found; columns are {}",
                        role.canonical(),
                        listing()
                    )))
                }
            }
        }
    }
    for &role in roles {
        if out.contains_key(&role) {
            continue;
        }
        let hits: Vec<&String> = names
            .iter()
            .filter(|n| {
                !taken.contains(n.as_str()) && role.aliases().contains(&normalise(n).as_str())
            })
            .collect();
        match hits.as_slice() {
            [] => {}
            [one] => {
                taken.insert(one);
                out.insert(role, (*one).clone());
            }
            many => {
                return Err(bad(format!(
                    "{label}: ambiguous {} column: {} match; choose one with {} NAME",
                    role.canonical(),
                    quoted(many, " and "),
                    role.flag()
                )));
            }
        }
    }
    for &role in required {
        if !out.contains_key(&role) {
            return Err(bad(format!(
                "{label}: no {} column found (columns are {}); map one with {} NAME",
                role.canonical(),
                listing(),
                role.flag()
            )));
        }
    }
    Ok(out)
}

pub(super) fn describe_mapping(label: &str, map: &BTreeMap<Role, String>, extra: &str) -> String {
    let mut s = format!("{label}:");
    for (role, src) in map {
        let _ = write!(s, " {} <- '{src}',", role.canonical());
    }
    s.pop();
    s + extra
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn common_spellings_are_mapped() {
        let m = map_roles(
            "f",
            &names(&[
                "InvoiceNo",
                "Customer ID",
                "InvoiceDate",
                "Quantity",
                "UnitPrice",
            ]),
            &TX_ROLES,
            &[Role::Customer, Role::Date],
            &BTreeMap::new(),
            false,
        )
        .unwrap();
        assert_eq!(m[&Role::Customer], "Customer ID");
        assert_eq!(m[&Role::Date], "InvoiceDate");
        assert_eq!(m[&Role::Order], "InvoiceNo");
        assert_eq!(m[&Role::Price], "UnitPrice");
        assert!(!m.contains_key(&Role::Amount));
    }

    #[test]
    fn ambiguous_and_missing_columns_explain_the_flag() {
        let e = map_roles(
            "f",
            &names(&["customer_id", "date", "order_date", "amount"]),
            &TX_ROLES,
            &[Role::Customer, Role::Date],
            &BTreeMap::new(),
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("'date' and 'order_date'") && e.contains("--date-col"),
            "{e}"
        );
        let e = map_roles(
            "f",
            &names(&["who", "date", "amount"]),
            &TX_ROLES,
            &[Role::Customer, Role::Date],
            &BTreeMap::new(),
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("'who'") && e.contains("--customer-col"), "{e}");
        let mut o = BTreeMap::new();
        o.insert(Role::Customer, "who".to_string());
        let m = map_roles(
            "f",
            &names(&["who", "date", "amount"]),
            &TX_ROLES,
            &[Role::Customer, Role::Date],
            &o,
            false,
        )
        .unwrap();
        assert_eq!(m[&Role::Customer], "who");
    }
}
