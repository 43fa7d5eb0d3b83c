//! Carbon intensity of electricity by country.
//!
//! Source: Our World in Data, "Carbon intensity of electricity generation" (gCO2eq/kWh,
//! life-cycle emissions per kWh generated), built from Ember's Yearly Electricity Data and the
//! Energy Institute's Statistical Review of World Energy. Values are for 2023, or 2022 where 2023
//! was not yet published (the `year` field says which). They were taken from the copy of that
//! data set that CodeCarbon 3.3.2 ships (`codecarbon/data/private_infra/global_energy_mix.json`,
//! field `carbon_intensity`), so an emissions figure here and one from CodeCarbon agree for the
//! same energy and country. The default when no country is given is the world average of
//! 475 gCO2eq/kWh (IEA, Global Energy & CO2 Status Report 2019), CodeCarbon's default too.

use crate::error::{EnergyError, Result};

/// World-average carbon intensity used when no country or intensity is given, gCO2eq/kWh.
pub const WORLD_AVERAGE_G_PER_KWH: f64 = 475.0;

/// One row of the country table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CountryIntensity {
    /// ISO 3166-1 alpha-2 code.
    pub alpha2: &'static str,
    /// ISO 3166-1 alpha-3 code (what `emissions.csv`'s `country_iso_code` holds).
    pub alpha3: &'static str,
    /// English name.
    pub name: &'static str,
    /// Carbon intensity of electricity generation, gCO2eq/kWh.
    pub g_per_kwh: f64,
    /// The year of the figure.
    pub year: u16,
}

const fn country(
    alpha2: &'static str,
    alpha3: &'static str,
    name: &'static str,
    g_per_kwh: f64,
    year: u16,
) -> CountryIntensity {
    CountryIntensity {
        alpha2,
        alpha3,
        name,
        g_per_kwh,
        year,
    }
}

/// The table (Our World in Data / Ember, see the module documentation).
pub const COUNTRY_TABLE: &[CountryIntensity] = &[
    country("AE", "ARE", "United Arab Emirates", 561.135, 2022),
    country("AR", "ARG", "Argentina", 354.103, 2023),
    country("AU", "AUS", "Australia", 548.692, 2023),
    country("AT", "AUT", "Austria", 110.812, 2023),
    country("BE", "BEL", "Belgium", 138.107, 2023),
    country("BG", "BGR", "Bulgaria", 335.334, 2023),
    country("BR", "BRA", "Brazil", 98.348, 2023),
    country("CA", "CAN", "Canada", 170.043, 2023),
    country("CH", "CHE", "Switzerland", 34.843, 2023),
    country("CL", "CHL", "Chile", 291.113, 2023),
    country("CN", "CHN", "China", 582.317, 2023),
    country("CO", "COL", "Colombia", 259.511, 2023),
    country("CZ", "CZE", "Czechia", 449.724, 2023),
    country("DE", "DEU", "Germany", 380.95, 2023),
    country("DK", "DNK", "Denmark", 151.65, 2023),
    country("EG", "EGY", "Egypt", 570.306, 2023),
    country("ES", "ESP", "Spain", 174.05, 2023),
    country("FI", "FIN", "Finland", 79.158, 2023),
    country("FR", "FRA", "France", 56.039, 2023),
    country("GB", "GBR", "United Kingdom", 237.589, 2023),
    country("GR", "GRC", "Greece", 336.574, 2023),
    country("HU", "HUN", "Hungary", 204.19, 2023),
    country("ID", "IDN", "Indonesia", 675.931, 2022),
    country("IN", "IND", "India", 713.441, 2023),
    country("IE", "IRL", "Ireland", 290.805, 2023),
    country("IS", "ISL", "Iceland", 27.68, 2022),
    country("IL", "ISR", "Israel", 582.927, 2022),
    country("IT", "ITA", "Italy", 330.718, 2023),
    country("JP", "JPN", "Japan", 485.392, 2023),
    country("KZ", "KAZ", "Kazakhstan", 821.391, 2023),
    country("KR", "KOR", "South Korea", 430.567, 2023),
    country("MA", "MAR", "Morocco", 630.014, 2023),
    country("MX", "MEX", "Mexico", 507.245, 2023),
    country("MY", "MYS", "Malaysia", 605.831, 2022),
    country("NG", "NGA", "Nigeria", 523.247, 2023),
    country("NL", "NLD", "Netherlands", 267.622, 2023),
    country("NO", "NOR", "Norway", 30.08, 2023),
    country("NZ", "NZL", "New Zealand", 112.758, 2023),
    country("PK", "PAK", "Pakistan", 440.608, 2023),
    country("PH", "PHL", "Philippines", 610.688, 2023),
    country("PL", "POL", "Poland", 661.926, 2023),
    country("PT", "PRT", "Portugal", 165.553, 2023),
    country("RO", "ROU", "Romania", 240.583, 2023),
    country("RU", "RUS", "Russia", 441.039, 2023),
    country("SA", "SAU", "Saudi Arabia", 706.791, 2022),
    country("SG", "SGP", "Singapore", 470.783, 2023),
    country("SK", "SVK", "Slovakia", 116.774, 2023),
    country("SE", "SWE", "Sweden", 40.695, 2023),
    country("TH", "THA", "Thailand", 549.583, 2023),
    country("TR", "TUR", "Turkey", 464.586, 2023),
    country("TW", "TWN", "Taiwan", 642.378, 2023),
    country("UA", "UKR", "Ukraine", 259.693, 2022),
    country("US", "USA", "United States", 369.473, 2023),
    country("VN", "VNM", "Vietnam", 475.449, 2023),
    country("ZA", "ZAF", "South Africa", 707.686, 2023),
];

/// Looks a country up by its alpha-2 or alpha-3 code (case-insensitive).
pub fn lookup_country(code: &str) -> Option<&'static CountryIntensity> {
    let c = code.trim();
    COUNTRY_TABLE
        .iter()
        .find(|e| e.alpha2.eq_ignore_ascii_case(c) || e.alpha3.eq_ignore_ascii_case(c))
}

/// The carbon intensity a measurement uses, and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct CarbonIntensity {
    /// gCO2eq per kWh.
    pub g_per_kwh: f64,
    /// ISO 3166-1 alpha-3 code of the country, when one was given.
    pub country_iso_code: Option<String>,
    /// The country's name, when one was given.
    pub country_name: Option<String>,
    /// One phrase: where the number comes from.
    pub source: String,
}

impl CarbonIntensity {
    /// Resolves `--country` and `--carbon-intensity`: an explicit intensity wins (the country is
    /// still recorded), else the country's table value, else the world average.
    pub fn resolve(country: Option<&str>, g_per_kwh: Option<f64>) -> Result<Self> {
        let entry = match country {
            Some(code) => {
                Some(
                    lookup_country(code).ok_or_else(|| EnergyError::UnknownCountry {
                        code: code.to_string(),
                    })?,
                )
            }
            None => None,
        };
        let (value, source) = match (g_per_kwh, entry) {
            (Some(v), _) => {
                if !v.is_finite() || v < 0.0 {
                    return Err(EnergyError::InvalidConfig {
                        what: "carbon intensity",
                        message: format!("{v} g/kWh: must be a finite number >= 0"),
                    });
                }
                (v, "--carbon-intensity".to_string())
            }
            (None, Some(e)) => (
                e.g_per_kwh,
                format!("{} {} (Our World in Data / Ember)", e.name, e.year),
            ),
            (None, None) => (
                WORLD_AVERAGE_G_PER_KWH,
                "world average (IEA 2019), default".to_string(),
            ),
        };
        Ok(CarbonIntensity {
            g_per_kwh: value,
            country_iso_code: entry.map(|e| e.alpha3.to_string()),
            country_name: entry.map(|e| e.name.to_string()),
            source,
        })
    }

    /// kg CO2eq for an energy in kWh.
    pub fn emissions_kg(&self, kwh: f64) -> f64 {
        kwh * self.g_per_kwh / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_large_and_consistent() {
        assert!(COUNTRY_TABLE.len() >= 30);
        for (i, a) in COUNTRY_TABLE.iter().enumerate() {
            assert_eq!(a.alpha2.len(), 2);
            assert_eq!(a.alpha3.len(), 3);
            assert!(a.g_per_kwh > 0.0 && a.g_per_kwh < 1200.0, "{a:?}");
            for b in &COUNTRY_TABLE[i + 1..] {
                assert!(a.alpha2 != b.alpha2 && a.alpha3 != b.alpha3, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn resolution_order() {
        let fr = CarbonIntensity::resolve(Some("fr"), None).unwrap();
        assert_eq!(
            (fr.g_per_kwh, fr.country_iso_code.as_deref()),
            (56.039, Some("FRA"))
        );
        assert_eq!(
            CarbonIntensity::resolve(Some("DEU"), None)
                .unwrap()
                .g_per_kwh,
            380.95
        );
        let flag = CarbonIntensity::resolve(Some("FRA"), Some(100.0)).unwrap();
        assert_eq!(
            (flag.g_per_kwh, flag.country_iso_code.as_deref()),
            (100.0, Some("FRA"))
        );
        let world = CarbonIntensity::resolve(None, None).unwrap();
        assert_eq!(world.g_per_kwh, 475.0);
        assert!((world.emissions_kg(2.0) - 0.95).abs() < 1e-12);
        assert!(matches!(
            CarbonIntensity::resolve(Some("XX"), None),
            Err(EnergyError::UnknownCountry { .. })
        ));
        assert!(CarbonIntensity::resolve(None, Some(-1.0)).is_err());
        assert!(CarbonIntensity::resolve(None, Some(f64::NAN)).is_err());
    }
}
