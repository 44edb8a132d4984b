//! Step 5: the whole pipeline behind one call. `Explainer` owns a loaded model; `explain`
//! runs model -> gradients -> saliency -> metrics for one text and options, and returns the
//! serialisable `Explanation` that the CLI prints with `--json` and the page renders.
//! A text longer than the model's positions is explained in overlapping windows
//! (`windows.rs`) and stitched back into one `Explanation` of the whole text.

mod windows;

use crate::clock::Timings;
use crate::error::{Error, Result};
use crate::gradients::{argmax, layer_gradients, softmax, LayerGradients, Objective};
use crate::metrics::coherence::{choose_layer, coherence, Coherence};
use crate::metrics::faithfulness::{faithfulness, Faithfulness};
use crate::model::files::FileSet;
use crate::model::heads::{Decoder, DecoderKind};
use crate::model::input::Token;
use crate::model::Model;
use crate::options::{Aggregation, DecoderChoice, LayerChoice, Method, Options, MAX_OCCLUSION_TOKENS};
use crate::saliency::baselines::attention::{cls_attention, rollout};
use crate::saliency::baselines::integrated::{integrated_gradients, IntegratedGradients};
use crate::saliency::baselines::occlusion::occlusion;
use crate::saliency::baselines::random::random_scores;
use crate::saliency::baselines::zero_specials;
use crate::saliency::decode::{decode_layers, DecodedLayer};
use crate::saliency::position::position_saliency;
use crate::saliency::project::{project, InputIds};
use crate::saliency::words::{word_saliency, WordSaliency};
use serde::Serialize;
pub use windows::WindowsInfo;

/// A loaded model ready to explain texts.
pub struct Explainer {
    model: Model,
    name: String,
    quant: String,
}

/// Which model produced an explanation.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    pub name: String,
    /// The decoder used for the layers of this explanation.
    pub decoder: DecoderKind,
    pub quant: String,
    pub layers: usize,
    pub hidden_size: usize,
    pub vocab_size: usize,
}

/// One decoded token at one position, as shown to a reader.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShownToken {
    pub id: u32,
    pub token: String,
    pub prob: f32,
}

/// Everything about one layer: how coherent it is and what it says.
#[derive(Debug, Clone, Serialize)]
pub struct LayerView {
    pub layer: usize,
    pub coherence: f32,
    pub self_recovery: f32,
    /// Decoded layer saliency at this layer, one number per token (0 for specials).
    pub saliency: Vec<f32>,
    /// Share of |position saliency| that decoded to no input token.
    pub unassigned: f32,
    /// For each position, its best decoded tokens.
    pub decoded: Vec<Vec<ShownToken>>,
}

/// The result of one explanation: one schema for the CLI, the wasm API and the page.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub model: ModelInfo,
    pub text: String,
    pub labels: Vec<String>,
    pub logits: Vec<f32>,
    pub probs: Vec<f32>,
    pub predicted: usize,
    pub target: usize,
    pub contrast: Option<usize>,
    /// The explained score y: z_target, or z_target - z_contrast.
    pub score: f32,
    pub tokens: Vec<Token>,
    pub method: Method,
    pub aggregation: Aggregation,
    pub tau: usize,
    pub theta: f32,
    /// The layer whose saliency is shown: chosen by coherence (auto) or by the user.
    /// Methods that have no layer (embedding gradients, attention, occlusion, random)
    /// still report the layer the decoded views would show.
    pub layer: usize,
    pub layer_auto: bool,
    /// The explanation: one number per token (0 for special tokens).
    pub saliency: Vec<f32>,
    /// Every layer, 0 (embedding output) to L; empty when the layer view was not asked for.
    pub layers: Vec<LayerView>,
    pub words: Vec<WordSaliency>,
    pub faithfulness: Option<Faithfulness>,
    /// Integrated gradients' completeness check, when the method is `ig`.
    pub integrated_gradients: Option<IntegratedGradients>,
    #[serde(serialize_with = "timings_as_object")]
    pub timing_ms: Timings,
    /// Plain words on what was computed, for anyone reading the numbers.
    pub notes: Vec<String>,
    /// Set when the text was longer than the model's positions and was explained in
    /// overlapping windows (the page shows a notice).
    pub windows: Option<WindowsInfo>,
}

/// One pass of the model over a text that fits its positions, with what stitching
/// windows together needs beyond the explanation itself.
struct Pass {
    explanation: Explanation,
    /// Layer gxa at every layer (for `layer-gxa` only), so windows can agree on a layer.
    layer_gxa: Vec<Vec<f32>>,
}

fn timings_as_object<S: serde::Serializer>(t: &Timings, s: S) -> std::result::Result<S::Ok, S::Error> {
    t.to_json().serialize(s)
}

impl Explainer {
    /// Loads whatever the file set holds (a packed file or Hugging Face files); the
    /// reported storage format is the model's own.
    pub fn from_file_set(files: &FileSet, name: &str) -> Result<Self> {
        let model = Model::from_file_set(files)?;
        let quant = model.quant.clone();
        Ok(Self::new(model, name, &quant))
    }

    pub fn new(model: Model, name: &str, quant: &str) -> Self {
        Self { model, name: name.to_string(), quant: quant.to_string() }
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    fn decoder(&self, choice: DecoderChoice) -> &Decoder {
        match choice {
            DecoderChoice::Model => &self.model.decoder,
            DecoderChoice::TiedEmbeddings => &self.model.tied_decoder,
        }
    }

    /// Explains `text` with `options`. `layers_view` asks for the per-layer decoded view
    /// even when the method does not need it (the page always shows it).
    pub fn explain(&self, text: &str, options: &Options, layers_view: bool) -> Result<Explanation> {
        self.explain_with_progress(text, options, layers_view, &mut |_, _| {})
    }

    /// As [`Explainer::explain`], calling `progress(done, total)` as the windows of a long
    /// text finish (once, `(1, 1)`, for a text that fits the model).
    pub fn explain_with_progress(
        &self,
        text: &str,
        options: &Options,
        layers_view: bool,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Explanation> {
        options.validate(self.model.num_layers())?;
        let mut tokenize = Timings::default();
        let tokens = tokenize.time("tokenize", || self.model.text.encode_long(text))?;
        if tokens.iter().all(|t| t.special) {
            return Err(Error::Input("the text is empty: there is nothing to explain".into()));
        }
        if options.method == Method::Occlusion && tokens.len() > MAX_OCCLUSION_TOKENS {
            return Err(Error::Option {
                option: "method".into(),
                reason: format!(
                    "occlusion runs the model once per token ({} passes of {} tokens here, minutes of work); it is offered up to {MAX_OCCLUSION_TOKENS} tokens: choose another method or a shorter text",
                    tokens.len() - 2,
                    tokens.len()
                ),
            });
        }
        let mut explanation = if tokens.len() <= self.model.config.max_positions {
            let e = self.pass(text, tokens, options, layers_view)?.explanation;
            progress(1, 1);
            e
        } else {
            windows::explain_in_windows(self, text, tokens, options, layers_view, progress)?
        };
        // Tokenizing first, then the stages in the order they ran.
        tokenize.add(&explanation.timing_ms);
        explanation.timing_ms = tokenize;
        if options.faithfulness {
            self.add_faithfulness(&mut explanation)?;
        }
        Ok(explanation)
    }

    /// One pass of the model over `tokens` (which fit its positions): forward, backward,
    /// every layer decoded, the method's scores and words. No faithfulness.
    fn pass(&self, text: &str, tokens: Vec<Token>, options: &Options, layers_view: bool) -> Result<Pass> {
        let model = &self.model;
        let mut timing = Timings::default();
        let ids: Vec<u32> = tokens.iter().map(|t| t.id).collect();
        let special: Vec<bool> = tokens.iter().map(|t| t.special).collect();
        let target = options.target.as_ref().map(|c| c.resolve(&model.labels, "target")).transpose()?;
        let contrast = options.contrast.as_ref().map(|c| c.resolve(&model.labels, "contrast")).transpose()?;
        let lg = layer_gradients(model, &ids, |logits| {
            let class = target.unwrap_or_else(|| argmax(logits));
            if contrast == Some(class) {
                return Err(Error::Option {
                    option: "contrast".into(),
                    reason: format!("the contrast class is the explained class ({})", model.labels[class]),
                });
            }
            Ok(Objective { class, contrast })
        })?;
        timing.record("forward", lg.forward_ms);
        timing.record("backward", lg.backward_ms);
        let input = InputIds { ids: &ids, special: &special };

        // Decoded layer saliency at every layer (needed by dls, and by the page's views).
        // layer-gxa at the automatic layer uses the layer DLS would choose.
        let needs_layers = layers_view
            || options.method == Method::Dls
            || (options.method == Method::LayerGxa && options.layer == LayerChoice::Auto);
        let layers = if needs_layers { self.layer_views(&lg, &input, options, &mut timing)? } else { Vec::new() };
        let coherences: Vec<f32> = layers.iter().map(|l| l.coherence).collect();
        let (layer, layer_auto) = match options.layer {
            LayerChoice::Fixed(l) => (l, false),
            LayerChoice::Auto if coherences.is_empty() => (model.num_layers(), true),
            LayerChoice::Auto => (choose_layer(&coherences, options.theta), true),
        };

        // Layer gxa at every layer is a dot product per position: cheap, and it lets the
        // windows of a long text use the layer chosen for the whole text.
        let layer_gxa: Vec<Vec<f32>> = if options.method == Method::LayerGxa {
            (0..lg.hidden.len())
                .map(|l| position_saliency(Aggregation::Gxa, &lg.hidden[l], &lg.grads[l]))
                .collect::<Result<_>>()?
        } else {
            Vec::new()
        };
        let mut ig = None;
        let saliency = timing.time("method", || -> Result<Vec<f32>> {
            let scores = match options.method {
                Method::Dls => layers[layer].saliency.clone(),
                Method::GradNorm => position_saliency(Aggregation::GradNorm, &lg.word_embeds, &lg.word_grads)?,
                Method::Gxa => position_saliency(Aggregation::Gxa, &lg.word_embeds, &lg.word_grads)?,
                Method::LayerGxa => layer_gxa[layer].clone(),
                Method::IntegratedGradients => {
                    let result =
                        integrated_gradients(model, &lg.word_embeds, &special, lg.objective, options.ig_steps)?;
                    let scores = result.scores.clone();
                    ig = Some(result);
                    scores
                }
                Method::Attention => cls_attention(&model.attentions(&ids)?)?,
                Method::Rollout => rollout(&model.attentions(&ids)?)?,
                Method::Occlusion => occlusion(model, &ids, &special, lg.objective, lg.score)?,
                Method::Random => random_scores(ids.len(), &special, options.seed),
            };
            Ok(zero_specials(scores, &special))
        })?;

        let words = word_saliency(text, &tokens, &saliency);
        let mut notes = vec![
            "Decoded layer saliency, after Hou & Castanon (ICML 2023); the formulas are this tool's reconstruction (see METHOD.md).".to_string(),
        ];
        if self.decoder(options.decoder).kind() == DecoderKind::TiedEmbeddings {
            notes.push("Layers are decoded with the tied word-embedding matrix (no LM head): a logit lens.".into());
        }
        let explanation = Explanation {
            model: ModelInfo {
                name: self.name.clone(),
                decoder: self.decoder(options.decoder).kind(),
                quant: self.quant.clone(),
                layers: model.num_layers(),
                hidden_size: model.config.hidden_size,
                vocab_size: model.config.vocab_size,
            },
            text: text.to_string(),
            labels: model.labels.clone(),
            probs: softmax(&lg.logits),
            predicted: argmax(&lg.logits),
            logits: lg.logits.clone(),
            target: lg.objective.class,
            contrast: lg.objective.contrast,
            score: lg.score,
            tokens,
            method: options.method,
            aggregation: options.aggregation,
            tau: options.tau,
            theta: options.theta,
            layer,
            layer_auto,
            saliency,
            layers,
            words,
            faithfulness: None,
            integrated_gradients: ig,
            timing_ms: timing,
            notes,
            windows: None,
        };
        Ok(Pass { explanation, layer_gxa })
    }

    /// Measures how faithful an explanation's saliency is (ERASER metrics, timed as
    /// "faithfulness") and adds it. Separate so the page can show an explanation first
    /// and its faithfulness, which takes longer than the explanation itself, after.
    pub fn add_faithfulness(&self, e: &mut Explanation) -> Result<()> {
        if e.windows.is_some() {
            // Each perturbed text would need every window again: dozens of passes of
            // 512 tokens. Said in the notes rather than left blank without a reason.
            if !e.notes.iter().any(|n| n.starts_with(windows::NO_FAITHFULNESS)) {
                e.notes.push(format!(
                    "{}: each perturbed text would be explained window by window again, too slow for the page.",
                    windows::NO_FAITHFULNESS
                ));
            }
            return Ok(());
        }
        let ids: Vec<u32> = e.tokens.iter().map(|t| t.id).collect();
        let special: Vec<bool> = e.tokens.iter().map(|t| t.special).collect();
        let f =
            e.timing_ms.time("faithfulness", || faithfulness(&self.model, &ids, &special, &e.saliency, e.target))?;
        e.notes.insert(1, format!("Faithfulness perturbation: {}.", f.perturbation));
        e.faithfulness = Some(f);
        Ok(())
    }

    /// Decodes every layer, scores positions, projects onto tokens, measures coherence.
    fn layer_views(
        &self,
        lg: &LayerGradients,
        input: &InputIds<'_>,
        options: &Options,
        timing: &mut Timings,
    ) -> Result<Vec<LayerView>> {
        let keep = options.tau.max(options.decoded_top);
        let decoded: Vec<DecodedLayer> =
            timing.time("decode", || decode_layers(self.decoder(options.decoder), &lg.hidden, keep))?;
        timing.time("saliency", || {
            decoded
                .iter()
                .enumerate()
                .map(|(l, layer)| {
                    let s = position_saliency(options.aggregation, &lg.hidden[l], &lg.grads[l])?;
                    let projected = project(layer, input, &s, options.tau);
                    let Coherence { coherence, self_recovery } = coherence(layer, input, options.tau);
                    Ok(LayerView {
                        layer: l,
                        coherence,
                        self_recovery,
                        saliency: projected.token_saliency,
                        unassigned: projected.unassigned,
                        decoded: layer
                            .positions
                            .iter()
                            .map(|top| {
                                top.iter()
                                    .take(options.decoded_top)
                                    .map(|d| ShownToken {
                                        id: d.id,
                                        token: self.model.text.id_to_token(d.id),
                                        prob: d.prob,
                                    })
                                    .collect()
                            })
                            .collect(),
                    })
                })
                .collect()
        })
    }
}
