//! Optimiser state as named `f32` vectors, for checkpoints.

use std::collections::{BTreeMap, HashMap};

use super::{Optimizer, Slot};
use crate::TrainError;

const MARKER: &str = "algorithm.";
const STATE: &str = "state.";
/// Largest step count an `f32` holds exactly.
const MAX_EXACT_STEP: u64 = 1 << 24;

pub(super) fn export(opt: &Optimizer) -> Vec<(String, Vec<f32>)> {
    let names = opt.algorithm.buffer_names();
    let mut out = vec![(format!("{MARKER}{}", opt.algorithm.name()), Vec::new())];
    let sorted: BTreeMap<_, _> = opt.slots.iter().collect();
    for (param, slot) in sorted {
        out.push((format!("{STATE}{param}.step"), vec![slot.step as f32]));
        out.push((format!("{STATE}{param}.group"), vec![slot.group as f32]));
        for (name, buf) in names.iter().zip(&slot.buffers) {
            out.push((format!("{STATE}{param}.{name}"), buf.clone()));
        }
    }
    out
}

fn mismatch(reason: String) -> TrainError {
    TrainError::StateMismatch(reason)
}

/// A count stored as one `f32`: a non-negative integer below `limit`.
fn count(name: &str, v: &[f32], limit: u64) -> Result<u64, TrainError> {
    match v {
        [x] if x.fract() == 0.0 && *x >= 0.0 && (*x as u64) < limit => Ok(*x as u64),
        _ => Err(mismatch(format!(
            "`{name}` must hold one integer in [0, {limit}), found {v:?}"
        ))),
    }
}

pub(super) fn import<'t>(
    opt: &mut Optimizer,
    tensors: &'t [(String, Vec<f32>)],
) -> Result<(), TrainError> {
    let algo = opt.algorithm.name();
    let buffer_names = opt.algorithm.buffer_names();
    let mut marker = None;
    let mut fields: BTreeMap<&str, HashMap<&str, &Vec<f32>>> = BTreeMap::new();
    for (name, data) in tensors {
        if let Some(saved) = name.strip_prefix(MARKER) {
            if marker.replace(saved).is_some() {
                return Err(mismatch("more than one `algorithm.*` marker".into()));
            }
        } else if let Some((param, field)) =
            name.strip_prefix(STATE).and_then(|n| n.rsplit_once('.'))
        {
            if fields
                .entry(param)
                .or_default()
                .insert(field, data)
                .is_some()
            {
                return Err(mismatch(format!("`{name}` given twice")));
            }
        } else {
            return Err(mismatch(format!("unexpected entry `{name}`")));
        }
    }
    match marker {
        Some(saved) if saved == algo => {}
        Some(saved) => {
            return Err(mismatch(format!(
                "the saved state is {saved}'s, this optimiser is {algo}"
            )))
        }
        None => {
            return Err(mismatch(format!(
                "no `{MARKER}<name>` entry (expected `{MARKER}{algo}`)"
            )))
        }
    }
    let mut slots = HashMap::new();
    for (param, mut f) in fields {
        let take = |f: &mut HashMap<&str, &'t Vec<f32>>,
                    field: &str|
         -> Result<&'t Vec<f32>, TrainError> {
            f.remove(field).ok_or_else(|| {
                mismatch(format!(
                    "`{STATE}{param}.{field}` is missing ({algo} state)"
                ))
            })
        };
        let step = count(
            &format!("{STATE}{param}.step"),
            take(&mut f, "step")?,
            MAX_EXACT_STEP,
        )?;
        if step == 0 {
            return Err(mismatch(format!(
                "`{STATE}{param}.step` is 0: state exists only after a step"
            )));
        }
        let group = count(
            &format!("{STATE}{param}.group"),
            take(&mut f, "group")?,
            opt.groups.len() as u64,
        )? as usize;
        let mut buffers = Vec::with_capacity(buffer_names.len());
        for b in &buffer_names {
            let data = take(&mut f, b)?;
            if let Some(first) = buffers.first().map(Vec::len) {
                if data.len() != first {
                    return Err(mismatch(format!(
                        "`{STATE}{param}.{b}` has {} values, the other buffers {first}",
                        data.len()
                    )));
                }
            }
            buffers.push(data.clone());
        }
        if let Some(extra) = f.keys().next() {
            return Err(mismatch(format!(
                "`{STATE}{param}.{extra}` is not part of {algo}'s state (expected {buffer_names:?})"
            )));
        }
        slots.insert(
            param.to_string(),
            Slot {
                group,
                step,
                buffers,
            },
        );
    }
    opt.slots = slots;
    Ok(())
}
