//! The KPIs modules may declare, each with its unit, its exact definition (shown in
//! `GET /v1/metrics` and docs/kpis.md) and how it is computed.

use super::{Compute, Kpi, Unit};

/// Every KPI, by name.
pub const KPIS: &[Kpi] = &[
    Kpi {
        name: "time_to_first_response",
        unit: Unit::Seconds,
        definition: "For the module's runs started in the period that sent a message: the time from the run's start (the event that started it being stored) to its first message, as the median (p50) and the 90th percentile (p90). `value` is p50.",
        compute: Compute::FirstResponse,
    },
    Kpi {
        name: "booking_rate",
        unit: Unit::Percent,
        definition: "Of the module's runs started in the period, the percentage whose contact booked (an `appointment.booked` event) within 7 days of the run's start.",
        compute: Compute::FollowedBy(&["appointment.booked"], 7),
    },
    Kpi {
        name: "reply_rate",
        unit: Unit::Percent,
        definition: "Of the module's runs started in the period, the percentage whose contact replied (a `message.received` event) within 7 days of the run's start.",
        compute: Compute::FollowedBy(&["message.received"], 7),
    },
    Kpi {
        name: "response_rate",
        unit: Unit::Percent,
        definition: "Of the module's runs started in the period, the percentage whose contact answered (a `message.received` event) within 3 days of the run's start.",
        compute: Compute::FollowedBy(&["message.received"], 3),
    },
    Kpi {
        name: "opt_out_rate",
        unit: Unit::Percent,
        definition: "Of the module's runs started in the period, the percentage whose contact opted out (a `contact.opted_out` event: STOP, or an unsubscribe) within 7 days of the run's start.",
        compute: Compute::FollowedBy(&["contact.opted_out"], 7),
    },
    Kpi {
        name: "click_rate",
        unit: Unit::Percent,
        definition: "Of the module's runs started in the period, the percentage whose contact opened a tracked link (a `link.clicked` event, from `{{track …}}`) within 7 days of the run's start.",
        compute: Compute::FollowedBy(&["link.clicked"], 7),
    },
    Kpi {
        name: "checklist_completion",
        unit: Unit::Percent,
        definition: "Of the module's runs started in the period, the percentage that reached a step whose id starts with `complete` (every item of the checklist was done).",
        compute: Compute::ReachedStep("complete"),
    },
    Kpi {
        name: "revived_revenue",
        unit: Unit::Cents,
        definition: "The sum of `data.amount_paid` (in the currency's minor unit, e.g. cents) of the `payment.succeeded` events of each contact within 30 days after the start of its run of the module, for the runs started in the period. `numerator`: the runs followed by a payment; `denominator`: the runs.",
        compute: Compute::RevenueWithin(30),
    },
    Kpi {
        name: "days_sales_outstanding",
        unit: Unit::Days,
        definition: "For the module's runs started in the period whose contact paid in full (a `payment.succeeded` event whose `data.amount_due` is 0 or absent) within 90 days of the run's start: the days from the run's start (the invoice) to that payment, as the mean, with the median (p50) and the 90th percentile (p90). `numerator`: the runs paid in full; `denominator`: the runs. Unpaid invoices are not in the mean: read it with `paid_in_7_days`.",
        compute: Compute::DaysToPaid(90),
    },
    Kpi {
        name: "paid_in_7_days",
        unit: Unit::Percent,
        definition: "Of the module's runs started in the period, the percentage whose contact paid (a `payment.succeeded` event) within 7 days of the run's start.",
        compute: Compute::FollowedBy(&["payment.succeeded"], 7),
    },
    Kpi {
        name: "approval_rate",
        unit: Unit::Percent,
        definition: "Of the module's runs started in the period, the percentage that reached a step whose id starts with `approved` (a reviewer approved what the run prepared).",
        compute: Compute::ReachedStep("approved"),
    },
    Kpi {
        name: "confirmation_rate",
        unit: Unit::Percent,
        definition: "Of the module's runs started in the period, the percentage that reached a step whose id starts with `confirmed` (the contact confirmed the appointment).",
        compute: Compute::ReachedStep("confirmed"),
    },
    Kpi {
        name: "no_show_rate",
        unit: Unit::Percent,
        definition: "`appointment.no_show` events received in the period (from the calendar or marked by staff), less the `appointment.no_show_cleared` ones (a mark taken back), per 100 `appointment.booked` events received in the period.",
        compute: Compute::EventRatio(
            "appointment.no_show",
            Some("appointment.no_show_cleared"),
            "appointment.booked",
        ),
    },
    Kpi {
        name: "reactivation_rate",
        unit: Unit::Percent,
        definition: "Of the module's runs started in the period, the percentage whose contact booked (`appointment.booked`) or paid (`payment.succeeded`) within 30 days of the run's start.",
        compute: Compute::FollowedBy(&["appointment.booked", "payment.succeeded"], 30),
    },
    Kpi {
        name: "revived_contacts",
        unit: Unit::Count,
        definition: "The number of the module's runs started in the period whose contact booked (`appointment.booked`) or paid (`payment.succeeded`) within 30 days of the run's start.",
        compute: Compute::CountFollowedBy(&["appointment.booked", "payment.succeeded"], 30),
    },
    Kpi {
        name: "nps",
        unit: Unit::Score,
        definition: "The Net Promoter Score of the contacts whose score was recorded in the period (`fields.nps_score` 0–10, at `fields.nps_at`): the percentage of promoters (9–10) minus the percentage of detractors (0–6), from −100 to 100.",
        compute: Compute::Nps,
    },
];
