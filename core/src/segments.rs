//! How many SMS parts a text costs: GSM-7 texts take 160 characters in one part and 153 per
//! part when split; anything outside GSM-7 (emoji, most accents) makes the whole text UCS-2,
//! 70 characters in one part and 67 per part (counted in UTF-16 units, as carriers do).

use serde::Serialize;

/// The character set a text is sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING-KEBAB-CASE")]
pub enum Encoding {
    #[serde(rename = "GSM-7")]
    Gsm7,
    #[serde(rename = "UCS-2")]
    Ucs2,
}

/// The cost of one text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Segments {
    pub encoding: Encoding,
    /// Characters in the encoding's units (escape characters count twice in GSM-7).
    pub units: usize,
    pub parts: usize,
}

const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM7_EXTENDED: &str = "^{}\\[~]|€\u{000C}";

impl Segments {
    /// Counts the parts `text` is sent in.
    pub fn of(text: &str) -> Self {
        let mut gsm_units = 0usize;
        let mut is_gsm = true;
        for c in text.chars() {
            if GSM7_BASIC.contains(c) {
                gsm_units += 1;
            } else if GSM7_EXTENDED.contains(c) {
                gsm_units += 2;
            } else {
                is_gsm = false;
                break;
            }
        }
        let (encoding, units, single, multi) = if is_gsm {
            (Encoding::Gsm7, gsm_units, 160, 153)
        } else {
            (Encoding::Ucs2, text.encode_utf16().count(), 70, 67)
        };
        let parts = match units {
            0 => 0,
            n if n <= single => 1,
            n => n.div_ceil(multi),
        };
        Self {
            encoding,
            units,
            parts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gsm7_limits() {
        assert_eq!(Segments::of(&"a".repeat(160)).parts, 1);
        assert_eq!(Segments::of(&"a".repeat(161)).parts, 2);
        assert_eq!(Segments::of(&"a".repeat(306)).parts, 2);
        assert_eq!(Segments::of(&"a".repeat(307)).parts, 3);
        assert_eq!(Segments::of("€").units, 2);
        assert_eq!(Segments::of("").parts, 0);
    }

    #[test]
    fn ucs2_limits() {
        let one = Segments::of(&format!("{}😀", "a".repeat(68)));
        assert_eq!(
            (one.encoding, one.units, one.parts),
            (Encoding::Ucs2, 70, 1)
        );
        assert_eq!(Segments::of(&"ç".repeat(71)).parts, 2);
        assert_eq!(Segments::of(&"ç".repeat(134)).parts, 2);
        assert_eq!(Segments::of(&"ç".repeat(135)).parts, 3);
    }
}
