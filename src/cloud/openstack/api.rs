//! One request to an OpenStack service through openstack_sdk's session (Keystone auth, the
//! service catalog, version discovery, microversion negotiation), and its errors in words.

use crate::cloud::CloudError;
use openstack_sdk::api::{BodyError, QueryParams, RestEndpoint};
use openstack_sdk::types::{ApiVersion, ServiceType};
use serde_json::Value;
use std::borrow::Cow;

/// A request: which service, path below the service's endpoint, query, JSON body, and the
/// microversion it relies on (sent as `OpenStack-API-Version`; refused by the session when the
/// cloud is older).
pub struct Call {
    method: http::Method,
    service: ServiceType,
    path: String,
    query: Vec<(String, String)>,
    body: Option<Value>,
    version: Option<ApiVersion>,
}

impl Call {
    pub fn get(service: ServiceType, path: impl Into<String>) -> Call {
        Call::new(http::Method::GET, service, path)
    }
    pub fn post(service: ServiceType, path: impl Into<String>, body: Value) -> Call {
        let mut call = Call::new(http::Method::POST, service, path);
        call.body = Some(body);
        call
    }
    pub fn delete(service: ServiceType, path: impl Into<String>) -> Call {
        Call::new(http::Method::DELETE, service, path)
    }
    fn new(method: http::Method, service: ServiceType, path: impl Into<String>) -> Call {
        Call {
            method,
            service,
            path: path.into(),
            query: Vec::new(),
            body: None,
            version: None,
        }
    }
    pub fn query(mut self, key: &str, value: impl Into<String>) -> Call {
        self.query.push((key.to_string(), value.into()));
        self
    }
    pub fn microversion(mut self, major: u8, minor: u8) -> Call {
        self.version = Some(ApiVersion::new(major, minor));
        self
    }
    pub fn service(&self) -> ServiceType {
        self.service.clone()
    }
    pub fn describe(&self) -> String {
        format!("{} {} {}", self.service, self.method, self.path)
    }
}

impl RestEndpoint for Call {
    fn method(&self) -> http::Method {
        self.method.clone()
    }
    fn endpoint(&self) -> Cow<'static, str> {
        Cow::Owned(self.path.clone())
    }
    fn service_type(&self) -> ServiceType {
        self.service.clone()
    }
    fn parameters(&self) -> QueryParams<'_> {
        let mut params = QueryParams::default();
        for (k, v) in &self.query {
            params.push(k.as_str(), v.as_str());
        }
        params
    }
    fn body(&self) -> Result<Option<(&'static str, Vec<u8>)>, BodyError> {
        Ok(self.body.as_ref().map(|b| {
            (
                "application/json",
                serde_json::to_vec(b).expect("JSON values serialise"),
            )
        }))
    }
    fn api_version(&self) -> Option<ApiVersion> {
        None
    }
    fn min_version(&self) -> Option<ApiVersion> {
        self.version
    }
}

/// The error a service answered with: Nova and Cinder wrap it as `{"badRequest": {"message":
/// …}}`, Keystone as `{"error": {…}}`, Neutron as `{"NeutronError": {…}}`.
pub fn answer_error(operation: &str, status: u16, body: &[u8]) -> CloudError {
    let text = String::from_utf8_lossy(body);
    let (name, message) = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => {
            let wrapped = map.iter().find_map(|(k, v)| {
                v.get("message")
                    .and_then(Value::as_str)
                    .map(|m| (k.clone(), m.to_string()))
            });
            let flat = map
                .get("message")
                .and_then(Value::as_str)
                .map(|m| (String::new(), m.to_string()));
            wrapped
                .or(flat)
                .unwrap_or_else(|| (String::new(), text.chars().take(300).collect()))
        }
        _ => (String::new(), text.trim().chars().take(300).collect()),
    };
    let code = match name.as_str() {
        "" | "error" | "NeutronError" => format!("HTTP {status}"),
        fault => format!("{fault} ({status})"),
    };
    CloudError::Api {
        operation: operation.to_string(),
        hint: hint_for(status, &message),
        code,
        message,
    }
}

/// What to do about an error, in the words of configure.json and the dashboard.
pub fn hint_for(status: u16, message: &str) -> Option<String> {
    let lower = message.to_lowercase();
    let hint = if lower.contains("quota") || lower.contains("limit") && status == 413 {
        "quota: a limit of the project is reached (`provision instance list` and `provision \
         volume list` show what uses it; the dashboard's Overview shows the limits): free some, \
         or ask for more quota (Allocations in the Nectar dashboard)"
    } else if lower.contains("no valid host") {
        "no capacity for this flavor in that zone right now: try another \
         instances.availability_zone or a smaller flavor. The server is left in ERROR for you to \
         look at; `provision instance terminate <id>` removes it"
    } else if lower.contains("same availability_zone") || lower.contains("availability zone") {
        "Nectar attaches a volume only to a server in the volume's zone: create it in the \
         server's zone (deploy and `volume attach` do)"
    } else if status == 406 {
        "this cloud is older than provision needs: it does not offer the API microversion \
         named (provision relies on Nova 2.47, from OpenStack Pike, 2017)"
    } else if status == 401 {
        "the cloud refused the credentials: an application credential may have expired or been \
         deleted; make a new one in the dashboard (Identity → Application Credentials) and \
         download its clouds.yaml again"
    } else if status == 403 {
        "the project is not allowed to do this (the cloud's policy)"
    } else if status == 404 {
        "check the id: `provision instance list`, `volume list` or `snapshot list` show them"
    } else if status == 409 || lower.contains("status must be") {
        "the resource is not in a state that allows this now: see `provision instance list` / \
         `volume list`, wait, and run again"
    } else if status >= 500 {
        "the cloud had an internal error: run again later; if it persists, tell the cloud's \
         support what failed"
    } else {
        return None;
    };
    Some(hint.to_string())
}

/// A failure below the answer: the session could not send the request or read the reply.
pub fn transport_error(operation: &str, endpoint: &str, reason: String) -> CloudError {
    CloudError::Unreachable {
        operation: operation.to_string(),
        endpoint: endpoint.to_string(),
        reason,
    }
}

/// The message of an error and its causes, each once.
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = vec![err.to_string()];
    let mut source = err.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_read_from_each_services_shape() {
        let e = answer_error(
            "creating server p-db-1",
            403,
            br#"{"forbidden": {"code": 403, "message": "Quota exceeded for instances: Requested 1, but already used 3 of 3 instances"}}"#,
        );
        assert_eq!(
            e.to_string(),
            "creating server p-db-1: forbidden (403): Quota exceeded for instances: Requested 1, but already used 3 of 3 instances"
        );
        assert!(e.hint().unwrap().starts_with("quota"));
        let e = answer_error(
            "authenticating",
            401,
            br#"{"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}"#,
        );
        assert!(
            e.to_string()
                .contains("HTTP 401: The request you have made")
        );
        assert!(e.hint().unwrap().contains("application credential"));
        let e = answer_error(
            "reading network x",
            404,
            br#"{"NeutronError": {"type": "NetworkNotFound", "message": "Network x could not be found.", "detail": ""}}"#,
        );
        assert!(
            e.to_string()
                .ends_with("HTTP 404: Network x could not be found.")
        );
        let e = answer_error("x", 502, b"<html>Bad Gateway</html>");
        assert!(e.to_string().contains("<html>Bad Gateway</html>"));
        assert!(e.hint().unwrap().contains("internal error"));
        let e = answer_error(
            "attaching volume v to server s",
            400,
            br#"{"badRequest": {"code": 400, "message": "Invalid volume: Instance s and volume v are not in the same availability_zone. Instance is in melbourne-qh2. Volume is in melbourne-qh2-uom"}}"#,
        );
        assert!(
            e.hint()
                .unwrap()
                .contains("only to a server in the volume's zone")
        );
    }
}
