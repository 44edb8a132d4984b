//! Milliseconds for stage timings. `std::time::Instant` panics on wasm32-unknown-unknown,
//! so the browser build asks JavaScript's `performance.now()` instead (WASI, where the
//! unit tests also run, has a clock of its own and no JavaScript to ask).

/// Milliseconds since an arbitrary origin (fixed for the process or page).
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub fn now_ms() -> f64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed().as_secs_f64() * 1000.0
}

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub fn now_ms() -> f64 {
    use wasm_bindgen::JsCast;
    let performance = js_sys::Reflect::get(&js_sys::global(), &"performance".into()).ok();
    let now = performance
        .as_ref()
        .and_then(|p| js_sys::Reflect::get(p, &"now".into()).ok())
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
    match (performance, now) {
        (Some(p), Some(f)) => f.call0(&p).ok().and_then(|v| v.as_f64()).unwrap_or_else(js_sys::Date::now),
        _ => js_sys::Date::now(),
    }
}

/// Accumulates named stage durations in the order they ran.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Timings(pub Vec<(String, f64)>);

impl Timings {
    /// Runs `f`, adding its duration under `stage`.
    pub fn time<T>(&mut self, stage: &str, f: impl FnOnce() -> T) -> T {
        let start = now_ms();
        let out = f();
        self.record(stage, now_ms() - start);
        out
    }

    /// Adds `ms` (measured elsewhere) under `stage`.
    pub fn record(&mut self, stage: &str, ms: f64) {
        match self.0.iter_mut().find(|(name, _)| name == stage) {
            Some((_, total)) => *total += ms,
            None => self.0.push((stage.to_string(), ms)),
        }
    }

    /// Adds every stage of `other` (stages it shares with `self` are summed).
    pub fn add(&mut self, other: &Timings) {
        for (stage, ms) in &other.0 {
            self.record(stage, *ms);
        }
    }

    pub fn total(&self) -> f64 {
        self.0.iter().map(|(_, ms)| ms).sum()
    }

    /// As a JSON object `{stage: ms, ..., "total": ms}`, in stage order.
    pub fn to_json(&self) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        for (name, ms) in &self.0 {
            map.insert(name.clone(), serde_json::json!(round3(*ms)));
        }
        map.insert("total".into(), serde_json::json!(round3(self.total())));
        serde_json::Value::Object(map)
    }
}

fn round3(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}
