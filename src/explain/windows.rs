//! Texts longer than the model's positions, explained in overlapping windows.
//!
//! A 512-position model cannot read a 2,000-token article at once. The article's tokens
//! (tokenized once, so every offset points into the whole text) are cut into windows that
//! fit, overlapping by at least a quarter of a window so no token is explained only from
//! the edge of its context. Each window is one ordinary pass with the special tokens put
//! back around it. Then:
//! - the class: the predicted class of the whole text is the argmax of the windows' mean
//!   class probabilities, and every window explains that same class;
//! - token scores (the method's and every layer's) blend the windows that hold the token,
//!   weighted by its distance from the window's nearer edge (a tent), so the overlap
//!   cross-fades instead of jumping;
//! - per-layer figures (coherence, self-recovery, unassigned) are the windows' own,
//!   averaged with weights equal to the tokens each window owns (where its tent is highest);
//! - decoded tokens at a position come from the window that owns it;
//! - the automatic layer is chosen from the blended coherences, as for a short text.
//!
//! Faithfulness is not computed for windowed texts (see `Explainer::add_faithfulness`).

use super::{Explainer, Explanation, LayerView, Pass};
use crate::error::{Error, Result};
use crate::gradients::{argmax, softmax};
use crate::metrics::coherence::choose_layer;
use crate::model::input::Token;
use crate::options::{ClassChoice, LayerChoice, Method, Options};
use crate::saliency::words::word_saliency;
use serde::Serialize;
use std::ops::Range;

/// The start of the note that says faithfulness was not measured.
pub const NO_FAITHFULNESS: &str = "Faithfulness was not measured for this windowed text";

/// What the reader is told about the windows (the `windows` field of an explanation).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowsInfo {
    /// Tokens of the whole text, specials included.
    pub tokens: usize,
    /// The model's positions per pass.
    pub max_positions: usize,
    /// The smallest overlap between neighbouring windows, in tokens.
    pub overlap: usize,
    /// Each window's tokens of the text, as `[start, end)` indices into `tokens`.
    pub spans: Vec<(usize, usize)>,
}

/// Where the windows of a tokenized text lie.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowPlan {
    /// The leading special tokens ([CLS]) and trailing ones ([SEP]) every window repeats.
    prefix: usize,
    suffix: usize,
    /// Each window's content tokens, as indices into the whole text's tokens.
    spans: Vec<Range<usize>>,
}

impl WindowPlan {
    /// Plans windows of at most `max_positions` tokens over a text whose tokens are
    /// flagged `special`. A text that fits gets one window.
    pub fn new(special: &[bool], max_positions: usize) -> Result<Self> {
        let prefix = special.iter().take_while(|&&s| s).count();
        let suffix = special[prefix..].iter().rev().take_while(|&&s| s).count();
        let content = prefix..special.len() - suffix;
        let capacity = max_positions.saturating_sub(prefix + suffix);
        if capacity < 4 {
            return Err(Error::Input(format!(
                "the model reads {max_positions} positions, too few to explain a long text in windows"
            )));
        }
        let length = content.len();
        if length <= capacity {
            return Ok(Self { prefix, suffix, spans: vec![content] });
        }
        // Windows as long as the model allows, at least a quarter of one overlapping its
        // neighbour, spread evenly so the first starts and the last ends with the text.
        let stride = capacity - capacity / 4;
        let count = 1 + (length - capacity).div_ceil(stride);
        let room = length - capacity;
        let spans = (0..count)
            .map(|i| {
                let start = content.start + (i * room + (count - 1) / 2) / (count - 1);
                start..start + capacity
            })
            .collect();
        Ok(Self { prefix, suffix, spans })
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// The tokens of window `w`: the shared specials around its content.
    pub fn tokens(&self, all: &[Token], w: usize) -> Vec<Token> {
        let suffix = all.len() - self.suffix..all.len();
        all[..self.prefix].iter().chain(&all[self.spans[w].clone()]).chain(&all[suffix]).cloned().collect()
    }

    /// The weight of window `w` for the text's token `g` (which it must contain): the
    /// distance to the window's nearer edge, counting from 1.
    fn weight(&self, w: usize, g: usize) -> f32 {
        let span = &self.spans[w];
        (g - span.start + 1).min(span.end - g) as f32
    }

    /// Blends per-window token vectors (each over its window's own tokens, specials
    /// included) into one vector over the whole text; specials get 0.
    pub fn blend(&self, total: usize, per_window: &[&[f32]]) -> Vec<f32> {
        let mut sum = vec![0.0f32; total];
        let mut weight = vec![0.0f32; total];
        for (w, values) in per_window.iter().enumerate() {
            for g in self.spans[w].clone() {
                let k = self.weight(w, g);
                sum[g] += k * values[self.prefix + g - self.spans[w].start];
                weight[g] += k;
            }
        }
        sum.iter().zip(&weight).map(|(s, k)| if *k > 0.0 { s / k } else { 0.0 }).collect()
    }

    /// For each content token of the text, the window that holds it farthest from an
    /// edge (the earlier on a tie), with the token's index inside that window.
    pub fn owners(&self) -> Vec<(usize, usize)> {
        let content = self.spans[0].start..self.spans[self.spans.len() - 1].end;
        content
            .map(|g| {
                let w = (0..self.spans.len())
                    .filter(|&w| self.spans[w].contains(&g))
                    .fold(None, |best: Option<usize>, w| match best {
                        Some(b) if self.weight(b, g) >= self.weight(w, g) => Some(b),
                        _ => Some(w),
                    })
                    .expect("every content token lies in a window");
                (w, self.prefix + g - self.spans[w].start)
            })
            .collect()
    }

    /// The smallest overlap between neighbouring windows.
    pub fn overlap(&self) -> usize {
        self.spans.windows(2).map(|p| p[0].end.saturating_sub(p[1].start)).min().unwrap_or(0)
    }
}

/// Explains a text longer than the model's positions (module docs).
pub(super) fn explain_in_windows(
    explainer: &Explainer,
    text: &str,
    tokens: Vec<Token>,
    options: &Options,
    layers_view: bool,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Explanation> {
    let model = explainer.model();
    let special: Vec<bool> = tokens.iter().map(|t| t.special).collect();
    let plan = WindowPlan::new(&special, model.config.max_positions)?;
    if options.method == Method::IntegratedGradients {
        return Err(Error::Option {
            option: "method".into(),
            reason: format!(
                "integrated gradients on a text this long would run {} forward and backward passes in each of its {} windows, minutes of work; it is offered for texts the model reads in one pass ({} tokens): choose another method or a shorter text",
                options.ig_steps,
                plan.len(),
                model.config.max_positions
            ),
        });
    }
    let windows: Vec<Vec<Token>> = (0..plan.len()).map(|w| plan.tokens(&tokens, w)).collect();
    progress(0, plan.len());

    // Every window explains the class of the whole text: unless one was asked for, the
    // argmax of the windows' mean probabilities, which needs their forward passes first.
    let mut options = options.clone();
    let mut class_forward = super::Timings::default();
    if options.target.is_none() {
        let mean = class_forward.time("forward", || mean_probabilities(explainer, &windows))?;
        options.target = Some(ClassChoice::Index(argmax(&mean)));
    }
    // A layer-dependent method needs every layer's view to agree on one layer.
    let needs_layers = layers_view || matches!(options.method, Method::Dls | Method::LayerGxa);
    let mut passes: Vec<Pass> = Vec::with_capacity(plan.len());
    for (w, window) in windows.into_iter().enumerate() {
        passes.push(explainer.pass(text, window, &options, needs_layers)?);
        progress(w + 1, plan.len());
    }
    Ok(stitch(text, tokens, &plan, passes, &options, layers_view, class_forward))
}

/// The mean class probabilities of the windows' forward passes.
fn mean_probabilities(explainer: &Explainer, windows: &[Vec<Token>]) -> Result<Vec<f32>> {
    let mut mean = vec![0.0f32; explainer.model().labels.len()];
    for window in windows {
        let ids: Vec<u32> = window.iter().map(|t| t.id).collect();
        let logits: Vec<f32> = explainer.model().forward_ids(&ids)?.logits.flatten_all()?.to_vec1()?;
        for (m, p) in mean.iter_mut().zip(softmax(&logits)) {
            *m += p / windows.len() as f32;
        }
    }
    Ok(mean)
}

/// One explanation of the whole text from the windows' passes (module docs).
fn stitch(
    text: &str,
    tokens: Vec<Token>,
    plan: &WindowPlan,
    passes: Vec<Pass>,
    options: &Options,
    layers_view: bool,
    class_forward: super::Timings,
) -> Explanation {
    let n = tokens.len();
    let count = passes.len() as f32;
    let owners = plan.owners();
    let mut owned = vec![0.0f32; passes.len()];
    for &(w, _) in &owners {
        owned[w] += 1.0 / owners.len() as f32;
    }
    let by_owned = |value: &dyn Fn(&Explanation) -> f32| -> f32 {
        passes.iter().zip(&owned).map(|(p, share)| share * value(&p.explanation)).sum()
    };
    let mean_of = |value: &dyn Fn(&Explanation) -> &[f32]| -> Vec<f32> {
        let mut mean = vec![0.0f32; value(&passes[0].explanation).len()];
        for p in &passes {
            for (m, v) in mean.iter_mut().zip(value(&p.explanation)) {
                *m += v / count;
            }
        }
        mean
    };
    let blend = |value: &dyn Fn(&Pass) -> &[f32]| -> Vec<f32> {
        let vectors: Vec<&[f32]> = passes.iter().map(value).collect();
        plan.blend(n, &vectors)
    };

    let first = &passes[0].explanation;
    let layer_count = first.layers.len();
    let layers: Vec<LayerView> = (0..layer_count)
        .map(|l| {
            let mut decoded = vec![Vec::new(); n];
            for (i, &(w, local)) in owners.iter().enumerate() {
                decoded[plan.prefix + i] = passes[w].explanation.layers[l].decoded[local].clone();
            }
            LayerView {
                layer: l,
                coherence: by_owned(&|e| e.layers[l].coherence),
                self_recovery: by_owned(&|e| e.layers[l].self_recovery),
                saliency: blend(&|p| &p.explanation.layers[l].saliency),
                unassigned: by_owned(&|e| e.layers[l].unassigned),
                decoded,
            }
        })
        .collect();
    let coherences: Vec<f32> = layers.iter().map(|l| l.coherence).collect();
    let (layer, layer_auto) = match options.layer {
        LayerChoice::Fixed(l) => (l, false),
        LayerChoice::Auto if coherences.is_empty() => (first.layer, true),
        LayerChoice::Auto => (choose_layer(&coherences, options.theta), true),
    };
    let saliency = match options.method {
        Method::Dls => layers[layer].saliency.clone(),
        Method::LayerGxa => blend(&|p| &p.layer_gxa[layer]),
        _ => blend(&|p| &p.explanation.saliency),
    };
    let probs = mean_of(&|e| &e.probs);
    let predicted = argmax(&probs);
    let words = word_saliency(text, &tokens, &saliency);
    let info = WindowsInfo {
        tokens: n,
        max_positions: plan.prefix + plan.suffix + plan.spans[0].len(),
        overlap: plan.overlap(),
        spans: plan.spans.iter().map(|s| (s.start, s.end)).collect(),
    };
    let mut notes = vec![format!(
        "This text is {n} tokens long and the model reads {} positions at a time, so it was explained in {} overlapping windows (at least {} tokens of overlap). The prediction is the mean of the windows' class probabilities; each token's scores blend the windows that hold it, weighted towards the one where it sits farther from an edge.",
        info.max_positions,
        plan.len(),
        info.overlap
    )];
    for note in &first.notes {
        if !notes.contains(note) {
            notes.push(note.clone());
        }
    }
    let integrated_gradients = passes
        .iter()
        .filter_map(|p| p.explanation.integrated_gradients.clone())
        .max_by(|a, b| a.completeness_error.total_cmp(&b.completeness_error));
    if integrated_gradients.is_some() {
        notes.push("Integrated gradients: the completeness figures are those of the window that fits worst.".into());
    }
    let mut timing_ms = class_forward;
    for pass in &passes {
        timing_ms.add(&pass.explanation.timing_ms);
    }
    Explanation {
        model: first.model.clone(),
        text: text.to_string(),
        labels: first.labels.clone(),
        logits: mean_of(&|e| &e.logits),
        probs,
        predicted,
        target: first.target,
        contrast: first.contrast,
        score: passes.iter().map(|p| p.explanation.score).sum::<f32>() / count,
        tokens,
        method: options.method,
        aggregation: options.aggregation,
        tau: options.tau,
        theta: options.theta,
        layer,
        layer_auto,
        saliency,
        layers: if layers_view { layers } else { Vec::new() },
        words,
        faithfulness: None,
        integrated_gradients,
        timing_ms,
        notes,
        windows: Some(info),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specials(n: usize) -> Vec<bool> {
        (0..n).map(|i| i == 0 || i == n - 1).collect()
    }

    #[test]
    fn a_text_that_fits_is_one_window() {
        let plan = WindowPlan::new(&specials(10), 10).unwrap();
        assert_eq!(plan.spans, vec![1..9]);
    }

    #[test]
    fn windows_fit_overlap_and_cover_the_text_from_end_to_end() {
        for (n, max) in [(11, 10), (100, 10), (1000, 512), (4096, 512), (1023, 512), (513, 512)] {
            let plan = WindowPlan::new(&specials(n), max).unwrap();
            let capacity = max - 2;
            assert_eq!(plan.spans[0].start, 1, "{n}");
            assert_eq!(plan.spans.last().unwrap().end, n - 1, "{n}");
            for span in &plan.spans {
                assert_eq!(span.len(), capacity, "{n}");
            }
            assert!(plan.overlap() >= capacity / 4, "{n}: overlap {}", plan.overlap());
            // No more windows than needed at that overlap.
            assert!(plan.len() == 1 + (n - 2 - capacity).div_ceil(capacity - capacity / 4), "{n}");
        }
    }

    #[test]
    fn window_tokens_repeat_the_specials_and_keep_global_offsets() {
        let tokens: Vec<Token> = (0..12)
            .map(|i| Token {
                id: i as u32,
                text: format!("t{i}"),
                start: i,
                end: i + 1,
                special: i == 0 || i == 11,
                word: Some(i as u32),
            })
            .collect();
        let special: Vec<bool> = tokens.iter().map(|t| t.special).collect();
        let plan = WindowPlan::new(&special, 8).unwrap();
        let last = plan.tokens(&tokens, plan.len() - 1);
        assert_eq!(last.len(), 8);
        assert_eq!(last.first().unwrap().id, 0);
        assert_eq!(last.last().unwrap().id, 11);
        assert_eq!(last[1].start, plan.spans[plan.len() - 1].start);
    }

    #[test]
    fn blending_is_exact_where_one_window_holds_a_token_and_a_cross_fade_in_the_overlap() {
        let plan = WindowPlan::new(&specials(14), 10).unwrap();
        assert_eq!(plan.spans, vec![1..9, 5..13]);
        // Window 0 says 1 everywhere, window 1 says 3 (10 values each, specials at the ends).
        let (a, b) = (vec![1.0f32; 10], vec![3.0f32; 10]);
        let blended = plan.blend(14, &[&a, &b]);
        assert_eq!(blended[0], 0.0);
        assert_eq!(blended[13], 0.0);
        assert_eq!(&blended[1..5], &[1.0; 4]);
        assert_eq!(&blended[9..13], &[3.0; 4]);
        // In the overlap 5..9 the weight moves from window 0 to window 1.
        let overlap = &blended[5..9];
        assert!(overlap.windows(2).all(|p| p[0] < p[1]), "{overlap:?}");
        assert!(overlap.iter().all(|&v| v > 1.0 && v < 3.0), "{overlap:?}");
        // Owners: each token goes to the window where it sits farther from an edge.
        let owners: Vec<usize> = plan.owners().iter().map(|o| o.0).collect();
        assert_eq!(owners, vec![0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
    }
}
