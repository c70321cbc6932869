//! `set_fact`: give the host variables for the tasks after it (above the play's and the
//! inventory's, as registered results are). Changes nothing on the host.

use super::module::{DecideError, Look, Module, Observed, Plan};
use super::registry::ModuleArgs;
use super::{FieldError, PrepareCtx, is_identifier};
use crate::render::Pos;
use serde::Deserialize;
use serde_json::{Map, Value as Json};

#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct SetFactArgs(Map<String, Json>);

impl ModuleArgs for SetFactArgs {
    fn prepare(&self, ctx: &PrepareCtx) -> Result<Box<dyn Module>, FieldError> {
        let at = |message: String| FieldError {
            pos: Pos::MODULE,
            message,
        };
        let mut facts = Map::new();
        for (name, value) in &self.0 {
            // `cacheable` asks Ansible to keep the fact in its fact cache; provision has none.
            if name == "cacheable" {
                continue;
            }
            if !is_identifier(name) {
                return Err(at(format!("`{name}` is not a variable name")));
            }
            let mut value = value.clone();
            super::render_json(ctx.env, &mut value, ctx.vars)
                .map_err(|e| at(format!("{name}: {e}")))?;
            facts.insert(name.clone(), value);
        }
        if facts.is_empty() {
            return Err(at("set_fact needs at least one variable".into()));
        }
        Ok(Box::new(SetFact { facts }))
    }

    fn sets_variables(&self) -> Vec<String> {
        self.0
            .keys()
            .filter(|k| *k != "cacheable")
            .cloned()
            .collect()
    }
}

#[derive(Debug)]
pub struct SetFact {
    facts: Map<String, Json>,
}

impl Module for SetFact {
    fn kind(&self) -> &'static str {
        "set_fact"
    }

    fn target(&self) -> String {
        self.facts.keys().cloned().collect::<Vec<_>>().join(", ")
    }

    fn look(&self) -> Option<Look> {
        None
    }

    fn decide(&self, _: Option<&Observed>) -> Result<Plan, DecideError> {
        Ok(Plan::ok(format!("set {}", self.target())))
    }

    fn found(&self, _: Option<&Observed>) -> Map<String, Json> {
        let mut fields = Map::new();
        fields.insert("ansible_facts".into(), Json::Object(self.facts.clone()));
        fields
    }

    fn sets_facts(&self) -> Option<&Map<String, Json>> {
        Some(&self.facts)
    }
}
