//! A call takes a place in its tenant's share of the process's calls
//! ([`crate::runtime::call_share`]) or the run sleeps and plans the step again later.

use super::{Pause, RunCx};
use crate::runtime::call_share::{CALL_SHARE_HOLD, CallPermit};

impl RunCx<'_> {
    /// A place for the call about to be made (`None`: no share is kept, as in the
    /// simulator), or the sleep of a run whose tenant has its share in flight. Taken before
    /// the call's attempt is counted, so a run put off is not an attempt.
    pub(super) fn take_call_share(&mut self) -> Result<Option<CallPermit>, Pause> {
        let Some(share) = &self.call_share else {
            return Ok(None);
        };
        match share.try_take(&self.tenant.id) {
            Ok(permit) => Ok(Some(permit)),
            Err(wait) => {
                self.run.hold = Some(CALL_SHARE_HOLD.into());
                Err(self.sleep(self.now + wait))
            }
        }
    }
}
