//! Secret and personal values that must not leak into logs or output.

use std::fmt;

/// A citizen-ID number (CMND: 9 digits, CCCD: 12 digits): the VNConnect user name of an official.
/// It prints masked, keeping the last three digits; [`CitizenId::expose`] is for logging in only.
#[derive(Clone, PartialEq, Eq)]
pub struct CitizenId(String);

impl CitizenId {
    pub fn parse(text: &str) -> Result<CitizenId, String> {
        let digits = text.trim();
        if (digits.len() == 9 || digits.len() == 12) && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(CitizenId(digits.to_owned()))
        } else {
            Err("a citizen-ID number has 9 (CMND) or 12 (CCCD) digits".to_owned())
        }
    }

    /// All but the last three digits replaced, e.g. `*********789`.
    pub fn masked(&self) -> String {
        let keep = &self.0[self.0.len() - 3..];
        format!("{}{keep}", "*".repeat(self.0.len() - 3))
    }

    /// The number itself, to send to the token endpoint.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CitizenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for CitizenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CitizenId({})", self.masked())
    }
}

/// The login of an account on an upstream system.
#[derive(Clone, PartialEq, Eq)]
pub enum Username {
    /// Central reporting system: a VNConnect account named by a citizen-ID number.
    CitizenId(CitizenId),
    /// Provincial reporting system: the official's government mail address.
    Mail(String),
    /// Procedure-handling system: an OAuth2 client id.
    ClientId(String),
}

impl Username {
    /// What the login is sent as.
    pub fn expose(&self) -> &str {
        match self {
            Username::CitizenId(c) => c.expose(),
            Username::Mail(m) | Username::ClientId(m) => m,
        }
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Username::CitizenId(c) => fmt::Display::fmt(c, f),
            Username::Mail(m) | Username::ClientId(m) => f.write_str(m),
        }
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Username({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn citizen_ids_print_masked() {
        let id = CitizenId::parse("051234567890").unwrap();
        assert_eq!(id.to_string(), "*********890");
        assert_eq!(format!("{id:?}"), "CitizenId(*********890)");
        assert_eq!(
            format!("{}", Username::CitizenId(id.clone())),
            "*********890"
        );
        assert_eq!(id.expose(), "051234567890");
        assert_eq!(CitizenId::parse("212345678").unwrap().masked(), "******678");
        for bad in ["12345", "05123456789a", "0512345678901", ""] {
            assert!(CitizenId::parse(bad).is_err(), "{bad}");
        }
    }
}
