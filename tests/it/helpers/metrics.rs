//! Reading `GET /metrics`: the Prometheus text, and one series' value in it.

use axum::Router;

use super::app::get;

/// The value of the samples of `name` whose labels include every one of `labels`, summed
/// (0 when there is none).
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (series_name, series_labels) = match series.split_once('{') {
                Some((series_name, rest)) => (series_name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let all = labels.iter().all(|(key, value)| {
                series_labels
                    .split(',')
                    .any(|pair| pair == format!("{key}=\"{value}\""))
            });
            (series_name == name && all).then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

pub async fn metrics_text(router: &Router) -> String {
    let response = get(router, "/metrics").await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(
        response.content_type.starts_with("text/plain"),
        "{}",
        response.content_type
    );
    response.text()
}
