//! How an engine is put together: the seams it is handed (store, queue, clock, connector)
//! and what the process adds to them: segments, the template library, usage and plans, pool
//! number pacing, staff alerts, timers, the call lease and tracked links. The simulator uses
//! [`Engine::new`] alone; `stepwise serve` and `stepwise worker` add the rest.

use std::sync::Arc;

use super::cache::Caches;
use super::engine::{CALL_LEASE, Engine, TimerMode};
use super::flows::FlowCache;
use crate::ports::{Clock, Connector, Queue, Store};

impl Engine {
    pub fn new(
        store: Arc<dyn Store>,
        queue: Arc<dyn Queue>,
        clock: Arc<dyn Clock>,
        connector: Arc<dyn Connector>,
    ) -> Self {
        Self {
            store,
            queue,
            clock,
            connector,
            flows: FlowCache::default(),
            caches: Caches::default(),
            call_lease: CALL_LEASE,
            timers: TimerMode::Queue,
            link_base: None,
            audiences: None,
            library: None,
            usage: None,
            plans: Arc::default(),
            pacing: None,
            staff_alerts: false,
            call_share: None,
        }
    }

    /// Holds each tenant to `per_tenant` provider calls at a time in this process, which
    /// advances `places` runs at once, and the process to three quarters of them (see
    /// [`super::call_share`]): hanging calls cannot take every worker's place. 0 keeps no
    /// share.
    pub fn with_tenant_call_share(mut self, per_tenant: usize, places: usize) -> Self {
        if per_tenant == 0 {
            tracing::info!("no share of provider calls per tenant: one tenant may use every place");
            self.call_share = None;
        } else {
            tracing::info!(
                per_tenant,
                places,
                "each tenant has at most this many provider calls in flight in this process"
            );
            self.call_share = Some(super::call_share::CallShare::new(per_tenant, places));
        }
        self
    }

    /// Lets schedules enrol the contacts of a saved segment (`trigger.segment`), and checks
    /// at publish that the segment exists.
    pub fn with_audiences(mut self, audiences: Arc<dyn crate::ports::AudienceStore>) -> Self {
        self.audiences = Some(audiences);
        self
    }

    /// Lets flows name the tenant's library templates (`{{library "name"}}`), checked at
    /// publish and followed as versions are approved.
    pub fn with_library(mut self, library: Arc<dyn crate::ports::TemplateStore>) -> Self {
        self.library = Some(library);
        self
    }

    /// Measures usage, and limits sends by the operator's `plans` (see [`crate::usage`]).
    pub fn with_usage(
        mut self,
        usage: Arc<dyn crate::ports::UsageStore>,
        plans: crate::usage::Plans,
    ) -> Self {
        self.usage = Some(usage);
        self.plans = Arc::new(plans);
        self
    }

    /// Paces every text from a pool number by the number's rate (see
    /// [`crate::audience::pools`]), reserving its slots in `store`.
    pub fn with_pacing(mut self, store: Arc<dyn crate::ports::CampaignStore>) -> Self {
        self.pacing = Some(store);
        self
    }

    /// Lets the engine alert the business's staff itself, through its `notify` provider: a
    /// conversation that needs a human, a plan level reached.
    pub fn with_staff_alerts(mut self) -> Self {
        self.staff_alerts = true;
        self
    }

    /// The operator's plans.
    pub fn plans(&self) -> &crate::usage::Plans {
        &self.plans
    }

    /// Sets how timers are queued (see [`TimerMode`]).
    pub fn with_timer_mode(mut self, mode: TimerMode) -> Self {
        self.timers = mode;
        self
    }

    /// Sets how long a started call may take before the reconciler treats it as
    /// interrupted; it must exceed every connector timeout.
    pub fn with_call_lease(mut self, lease: jiff::SignedDuration) -> Self {
        self.call_lease = lease;
        self
    }

    /// Tracks `{{track …}}` links at `<public_url>/l/<code>`.
    pub fn with_public_url(mut self, public_url: &str) -> Self {
        self.link_base = Some(format!("{}/l/", public_url.trim_end_matches('/')));
        self
    }
}
