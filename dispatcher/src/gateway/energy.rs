//! A worker's energy report (`hello.resources.energy`, `energy` messages): bounds checked before
//! it reaches placement, and the form kept in the database (without the forecast).

use canopy_shared::protocol::{Energy, Resources};

use super::session::Refusal;

/// Most forecast points a report may carry (four days of quarter hours).
pub(super) const MAX_FORECAST_POINTS: usize = 384;
/// Highest intensity or threshold a report may name, gCO₂e/kWh (lignite is about 1,100).
const MAX_INTENSITY: u32 = 5_000;
/// Longest zone name.
const MAX_ZONE_LEN: usize = 64;

/// Refuses a report outside the bounds (`INVALID_ENERGY`), naming the field.
pub(super) fn check(energy: &Energy) -> Result<(), Refusal> {
    let invalid = |message: String| Err(Refusal::new("INVALID_ENERGY", message));
    if energy.forecast.len() > MAX_FORECAST_POINTS {
        return invalid(format!(
            "energy.forecast has {} points; at most {MAX_FORECAST_POINTS}",
            energy.forecast.len()
        ));
    }
    let too_high = |value: Option<u32>| value.is_some_and(|value| value > MAX_INTENSITY);
    if too_high(energy.carbon_intensity) {
        return invalid(format!(
            "energy.carbonIntensity must be at most {MAX_INTENSITY}"
        ));
    }
    if too_high(energy.renewable_threshold) {
        return invalid(format!(
            "energy.renewableThreshold must be at most {MAX_INTENSITY}"
        ));
    }
    if let Some(index) = energy
        .forecast
        .iter()
        .position(|point| point.intensity > MAX_INTENSITY)
    {
        return invalid(format!(
            "energy.forecast[{index}].intensity must be at most {MAX_INTENSITY}"
        ));
    }
    if energy.zone.as_ref().is_some_and(|zone| {
        zone.is_empty()
            || zone.len() > MAX_ZONE_LEN
            || !zone
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    }) {
        return invalid(format!(
            "energy.zone must be 1 to {MAX_ZONE_LEN} letters, digits, '-', '_' or '.'"
        ));
    }
    Ok(())
}

/// The resources as stored for the node API: the energy without its forecast.
pub(super) fn stored(resources: &Resources) -> Resources {
    let mut stored = resources.clone();
    if let Some(energy) = stored.energy.as_mut() {
        energy.forecast.clear();
    }
    stored
}
