//! Timing of the explanation pipeline by stage and input length (issue 6's native side):
//! medians over repeated runs in one process, and integrated gradients at 32 steps on the
//! same engine as the reference that decoded layer saliency must beat.

use crate::clock::now_ms;
use crate::error::{Error, Result};
use crate::explain::Explainer;
use crate::metrics::evaluation::median;
use crate::options::{Method, Options};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
pub struct BenchRow {
    /// Tokens in the input, special tokens included.
    pub tokens: usize,
    pub repeats: usize,
    /// The input, and its token ids (so a reference runtime can run the very same ids).
    pub text: String,
    pub ids: Vec<u32>,
    /// Median of the classifier's forward pass alone (ids to logits, nothing recorded for
    /// a backward pass): the figure to compare with another runtime's inference.
    pub forward_ms: f64,
    /// Median milliseconds of each stage of a DLS explanation (faithfulness excluded).
    pub stages_ms: BTreeMap<String, f64>,
    /// Median of the whole DLS explanation without faithfulness.
    pub dls_ms: f64,
    /// Median of the ERASER metrics for one explanation.
    pub faithfulness_ms: f64,
    /// Median of integrated gradients at 32 steps (no layer views, no metrics), when asked.
    pub ig32_ms: Option<f64>,
    /// ig32_ms / dls_ms.
    pub ig32_over_dls: Option<f64>,
}

/// A text of exactly `tokens` tokens (specials included) built from a fixed sentence.
pub fn text_of_length(explainer: &Explainer, tokens: usize) -> Result<String> {
    const WORDS: &[&str] = &[
        "the",
        "acting",
        "was",
        "wonderful",
        "but",
        "the",
        "plot",
        "made",
        "no",
        "sense",
        "and",
        "the",
        "ending",
        "dragged",
        "on",
        "forever",
        "while",
        "the",
        "music",
        "kept",
        "everyone",
        "awake",
    ];
    let mut words: Vec<&str> = Vec::new();
    let mut i = 0;
    loop {
        let text = words.join(" ");
        let n = explainer.model().text.encode(&text).map(|t| t.len()).unwrap_or(usize::MAX);
        if n >= tokens {
            if n == tokens {
                return Ok(text);
            }
            return Err(Error::Input(format!("cannot build a text of exactly {tokens} tokens")));
        }
        words.push(WORDS[i % WORDS.len()]);
        i += 1;
    }
}

/// Times each length `repeats` times after one warm-up; integrated gradients only when
/// `with_ig` (the browser skips it: minutes at 512 tokens, and the issue asks it natively).
pub fn bench(explainer: &Explainer, lengths: &[usize], repeats: usize, with_ig: bool) -> Result<Vec<BenchRow>> {
    let mut rows = Vec::new();
    // A few untimed runs first, so that a JIT (the browser's) has tiered up before the
    // first length is timed, not during it.
    let warm_up = text_of_length(explainer, lengths.iter().copied().min().unwrap_or(16).min(64))?;
    for _ in 0..3 {
        explainer.explain(&warm_up, &Options::default(), true)?;
    }
    for &tokens in lengths {
        let text = text_of_length(explainer, tokens)?;
        let ids: Vec<u32> = explainer.model().text.encode(&text)?.iter().map(|t| t.id).collect();
        let dls = Options { faithfulness: false, ..Options::default() };
        let ig =
            Options { method: Method::IntegratedGradients, ig_steps: 32, faithfulness: false, ..Options::default() };
        let with_metrics = Options::default();
        // One warm-up run of each, not timed.
        explainer.explain(&text, &dls, true)?;
        let mut stages: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        explainer.model().forward_ids(&ids)?;
        let (mut dls_ms, mut faith_ms, mut ig_ms, mut forward_ms) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..repeats {
            let start = now_ms();
            explainer.model().forward_ids(&ids)?.logits.to_vec2::<f32>()?;
            forward_ms.push(now_ms() - start);
            let e = explainer.explain(&text, &dls, true)?;
            for (stage, ms) in &e.timing_ms.0 {
                stages.entry(stage.clone()).or_default().push(*ms);
            }
            dls_ms.push(e.timing_ms.total());
            let f = explainer.explain(&text, &with_metrics, true)?;
            faith_ms.extend(f.timing_ms.0.iter().filter(|(s, _)| s == "faithfulness").map(|(_, ms)| *ms));
            if with_ig {
                ig_ms.push(explainer.explain(&text, &ig, false)?.timing_ms.total());
            }
        }
        let dls_median = median(&dls_ms);
        let ig_median = with_ig.then(|| median(&ig_ms));
        rows.push(BenchRow {
            tokens,
            repeats,
            text,
            ids,
            forward_ms: median(&forward_ms),
            stages_ms: stages.into_iter().map(|(s, v)| (s, median(&v))).collect(),
            dls_ms: dls_median,
            faithfulness_ms: median(&faith_ms),
            ig32_ms: ig_median,
            ig32_over_dls: ig_median.map(|ig| ig / dls_median),
        });
    }
    Ok(rows)
}
