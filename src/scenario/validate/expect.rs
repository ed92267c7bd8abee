//! `[expect]`: what the run must show, and the violations a scenario that
//! must fail names.

use super::{R, Validator};
use crate::scenario::model::*;
use crate::scenario::raw::*;
use crate::sim::time::SimTime;

impl Validator<'_, '_> {
    /// `max_voters`: the managers at start plus those `add_manager` adds.
    pub(super) fn expect(
        &self,
        raw: Option<&Sp<RawExpect>>,
        end: SimTime,
        max_voters: u64,
    ) -> R<Expect> {
        let mut expect = Expect::default();
        let Some(raw) = raw else { return Ok(expect) };
        let x = raw.get_ref();
        if let Some(s) = &x.safety {
            expect.safety = *s.get_ref();
        }
        if let Some(c) = &x.converged_by {
            expect.converged_by = Some(self.time(c, "expect.converged_by", end)?);
        }
        if let Some(l) = &x.leader_elected_by {
            expect.leader_elected_by = Some(self.time(l, "expect.leader_elected_by", end)?);
        }
        if let Some(v) = &x.voters {
            if *v.get_ref() == 0 {
                return Err(self.err(
                    v.span(),
                    "expect.voters",
                    "expected at least 1 voter at the end of the run",
                ));
            }
            if u64::from(*v.get_ref()) > max_voters {
                return Err(self.err(
                    v.span(),
                    "expect.voters",
                    format!(
                        "the group can have at most {max_voters} voters (cluster.managers plus add_manager events), got {}",
                        v.get_ref()
                    ),
                ));
            }
            expect.voters = Some(*v.get_ref());
        }
        if let Some(l) = &x.lost_acked_writes {
            let bound = match l.get_ref() {
                RawLost::Count(n) => LostBound::Exact(*n),
                RawLost::Bound(text) => LostBound::parse(text)
                    .map_err(|m| self.err(l.span(), "expect.lost_acked_writes", m))?,
            };
            expect.lost_acked_writes = Some(bound);
        }
        if let Some(list) = &x.violations {
            for (i, name) in list.get_ref().iter().enumerate() {
                let key = format!("expect.violations[{i}]");
                let n = name.get_ref();
                if !crate::check::KNOWN.contains(&n.as_str()) {
                    return Err(self.err(
                        name.span(),
                        key,
                        format!(
                            "no checker is named {n:?}: a name here must be one of partsim's checkers ({})",
                            crate::check::KNOWN.join(", ")
                        ),
                    ));
                }
                if expect.violations.contains(n) {
                    return Err(self.err(name.span(), key, format!("{n:?} is listed twice")));
                }
                expect.violations.push(n.clone());
            }
        }
        Ok(expect)
    }
}
