//! Polling with backoff and a timeout, shown with a spinner. The SDK's waiters have a fixed 15 s
//! minimum between polls; clouds that answer quickly should not make people wait that long.

use super::{CloudError, Instance};
use indicatif::{ProgressBar, ProgressStyle};
use std::future::Future;
use std::time::{Duration, Instant};

pub struct WaitOptions {
    pub timeout: Duration,
    pub first_delay: Duration,
    pub max_delay: Duration,
    pub show_progress: bool,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            timeout: Duration::from_secs(600),
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
            show_progress: true,
        }
    }
}

/// Polls `check` until it says done. `check` returns `Ok(Some(state))` while waiting and
/// `Ok(None)` when done; the state shows in the progress line and in a timeout error.
pub async fn until<F, Fut>(
    what: &str,
    wanted: &str,
    options: &WaitOptions,
    mut check: F,
) -> Result<(), CloudError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<String>, CloudError>>,
{
    let started = Instant::now();
    let bar = if options.show_progress {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut delay = options.first_delay;
    let result = loop {
        match check().await {
            Err(e) => break Err(e),
            Ok(None) => break Ok(()),
            Ok(Some(state)) => {
                bar.set_message(format!("waiting for {what} to be {wanted} (now {state})"));
                if started.elapsed() >= options.timeout {
                    break Err(CloudError::Timeout {
                        what: what.to_string(),
                        wanted: wanted.to_string(),
                        seconds: options.timeout.as_secs(),
                        last: state,
                    });
                }
                tokio::time::sleep(delay.min(options.timeout.saturating_sub(started.elapsed())))
                    .await;
                delay = (delay * 3 / 2).min(options.max_delay);
            }
        }
    };
    bar.finish_and_clear();
    result
}

/// Waits until every instance in `ids` is in state `wanted`, describing them with `describe`.
/// With `wanted` "terminated", an error `is_gone` accepts means they are gone: done.
pub async fn until_instances<F, Fut>(
    ids: &[String],
    wanted: &str,
    options: &WaitOptions,
    describe: F,
    is_gone: impl Fn(&CloudError) -> bool,
) -> Result<(), CloudError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Vec<Instance>, CloudError>>,
{
    let what = if ids.len() == 1 {
        ids[0].clone()
    } else {
        format!("{} instances", ids.len())
    };
    until(&what, wanted, options, || async {
        let found = match describe().await {
            Ok(f) => f,
            Err(e) if wanted == "terminated" && is_gone(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        let pending: Vec<String> = found
            .iter()
            .filter(|i| i.state != wanted)
            .map(|i| format!("{} {}", i.name, i.state))
            .collect();
        Ok((!pending.is_empty()).then(|| pending.join(", ")))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quick(timeout_ms: u64) -> WaitOptions {
        WaitOptions {
            timeout: Duration::from_millis(timeout_ms),
            first_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            show_progress: false,
        }
    }

    #[tokio::test]
    async fn returns_when_done_and_times_out_otherwise() {
        let mut polls = 0;
        until("i-1", "running", &quick(5000), || {
            polls += 1;
            let done = polls >= 3;
            async move {
                Ok(if done {
                    None
                } else {
                    Some("pending".to_string())
                })
            }
        })
        .await
        .unwrap();
        assert_eq!(polls, 3);

        let err = until("i-2", "terminated", &quick(30), || async {
            Ok(Some("shutting-down".to_string()))
        })
        .await
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "i-2 did not become terminated within 0s (last state: shutting-down)"
        );
    }
}
