//! Evaluation over many texts: every method's mean AOPC comprehensiveness and sufficiency
//! and its median time per explanation, with decoded layer saliency at the automatic layer
//! and at every fixed layer. The random control is a row like any other.

use crate::error::Result;
use crate::explain::Explainer;
use crate::metrics::faithfulness::faithfulness;
use crate::options::{LayerChoice, Method, Options};
use serde::Serialize;

/// One row of the table.
#[derive(Debug, Clone, Serialize)]
pub struct EvalRow {
    pub method: Method,
    /// "auto", a layer number, or null for methods without a layer.
    pub layer: serde_json::Value,
    pub aopc_comprehensiveness: f32,
    pub aopc_sufficiency: f32,
    /// Median milliseconds per explanation, faithfulness metrics excluded.
    pub median_ms: f64,
    pub texts: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalTable {
    pub rows: Vec<EvalRow>,
    pub texts: usize,
    /// Texts the model could not explain (e.g. empty), with the reason.
    pub skipped: Vec<(usize, String)>,
    pub perturbation: &'static str,
}

#[derive(Default)]
struct Acc {
    comp: Vec<f32>,
    suff: Vec<f32>,
    ms: Vec<f64>,
}

impl Acc {
    fn row(&self, method: Method, layer: serde_json::Value) -> EvalRow {
        let mean = |v: &[f32]| if v.is_empty() { f32::NAN } else { v.iter().sum::<f32>() / v.len() as f32 };
        EvalRow {
            method,
            layer,
            aopc_comprehensiveness: mean(&self.comp),
            aopc_sufficiency: mean(&self.suff),
            median_ms: median(&self.ms),
            texts: self.comp.len(),
        }
    }
}

pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// Runs `methods` on every text. `base` supplies the method parameters (tau, theta, ...).
/// `progress` is called after each text with (done, total).
pub fn evaluate(
    explainer: &Explainer,
    texts: &[String],
    methods: &[Method],
    base: &Options,
    mut progress: impl FnMut(usize, usize),
) -> Result<EvalTable> {
    let layers = explainer.model().num_layers();
    let mut per_method: Vec<Acc> = methods.iter().map(|_| Acc::default()).collect();
    let mut dls_fixed: Vec<Acc> = (0..=layers).map(|_| Acc::default()).collect();
    let mut skipped = Vec::new();
    for (t, text) in texts.iter().enumerate() {
        for (m, &method) in methods.iter().enumerate() {
            let options = Options { method, layer: LayerChoice::Auto, faithfulness: true, ..base.clone() };
            let explanation = match explainer.explain(text, &options, false) {
                Ok(e) => e,
                Err(e) if m == 0 => {
                    skipped.push((t, e.to_string()));
                    break;
                }
                Err(e) => return Err(e),
            };
            let f = explanation.faithfulness.as_ref().expect("faithfulness was asked for");
            let timing = &explanation.timing_ms;
            let faith_ms = timing.0.iter().filter(|(s, _)| s == "faithfulness").map(|(_, ms)| ms).sum::<f64>();
            per_method[m].comp.push(f.aopc_comprehensiveness);
            per_method[m].suff.push(f.aopc_sufficiency);
            per_method[m].ms.push(timing.total() - faith_ms);
            if method == Method::Dls {
                // The same pass already decoded every layer: score each fixed layer too.
                let ids: Vec<u32> = explanation.tokens.iter().map(|t| t.id).collect();
                let special: Vec<bool> = explanation.tokens.iter().map(|t| t.special).collect();
                for view in &explanation.layers {
                    let fixed = faithfulness(explainer.model(), &ids, &special, &view.saliency, explanation.target)?;
                    dls_fixed[view.layer].comp.push(fixed.aopc_comprehensiveness);
                    dls_fixed[view.layer].suff.push(fixed.aopc_sufficiency);
                    dls_fixed[view.layer].ms.push(timing.total() - faith_ms);
                }
            }
        }
        progress(t + 1, texts.len());
    }
    let mut rows = Vec::new();
    for (m, &method) in methods.iter().enumerate() {
        let layer = match method {
            Method::Dls | Method::LayerGxa => serde_json::json!("auto"),
            _ => serde_json::Value::Null,
        };
        rows.push(per_method[m].row(method, layer));
        if method == Method::Dls {
            for (l, acc) in dls_fixed.iter().enumerate() {
                rows.push(acc.row(Method::Dls, serde_json::json!(l)));
            }
        }
    }
    Ok(EvalTable {
        rows,
        texts: texts.len() - skipped.len(),
        skipped,
        perturbation: crate::metrics::faithfulness::PERTURBATION,
    })
}
