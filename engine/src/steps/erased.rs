//! Type erasure for step kinds, so the schema generator, the loader and the runtime iterate
//! one list of kinds whatever their configuration types.

use std::marker::PhantomData;

use schemars::{Schema, SchemaGenerator};
use serde_json::Value;

use super::{CheckCx, StepCx, StepError, StepKind, StepOutcome};

/// A kind, without its configuration type.
pub trait ErasedKind: Send + Sync {
    fn key(&self) -> &'static str;
    fn summary(&self) -> &'static str;
    fn schema(&self, generator: &mut SchemaGenerator) -> Schema;
    /// Parses a configuration as written in the flow.
    fn parse(&self, config: &Value) -> Result<Box<dyn StepConfig>, serde_json::Error>;
}

/// A parsed configuration of some kind.
pub trait StepConfig: Send + Sync + std::fmt::Debug {
    fn check(&self, cx: &mut CheckCx<'_>);
    /// The fields the step leaves in `steps.<id>` ([`StepKind::outputs`]).
    fn outputs(&self) -> Vec<String>;
    fn plan(&self, cx: &mut StepCx<'_>) -> Result<StepOutcome, StepError>;
}

/// The erased form of kind `K`, for the registry.
pub struct Kind<K>(PhantomData<fn() -> K>);

impl<K> std::fmt::Debug for Kind<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kind")
    }
}

impl<K> Kind<K> {
    pub const NEW: Self = Self(PhantomData);
}

struct Configured<K: StepKind>(K::Config);

impl<K: StepKind> std::fmt::Debug for Configured<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple(K::KEY).field(&self.0).finish()
    }
}

impl<K: StepKind> StepConfig for Configured<K> {
    fn check(&self, cx: &mut CheckCx<'_>) {
        K::check(&self.0, cx);
    }
    fn outputs(&self) -> Vec<String> {
        K::outputs(&self.0)
    }
    fn plan(&self, cx: &mut StepCx<'_>) -> Result<StepOutcome, StepError> {
        K::plan(&self.0, cx)
    }
}

impl<K: StepKind> ErasedKind for Kind<K> {
    fn key(&self) -> &'static str {
        K::KEY
    }
    fn summary(&self) -> &'static str {
        K::SUMMARY
    }
    fn schema(&self, generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<K::Config>()
    }
    fn parse(&self, config: &Value) -> Result<Box<dyn StepConfig>, serde_json::Error> {
        let config = K::Config::deserialize(config)?;
        Ok(Box::new(Configured::<K>(config)))
    }
}

use serde::Deserialize as _;
