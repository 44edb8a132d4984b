//! Every user-visible knob of an explanation (method.md's "(param)"s), in one struct whose
//! `Default` holds the documented defaults. The CLI and the wasm API both build this
//! struct; [`Options::validate`] checks it once against the loaded model.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Which saliency method to run. The same strings are used by the CLI, the JSON and the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    /// Decoded layer saliency (the method of this tool).
    #[serde(rename = "dls")]
    Dls,
    /// ||dy/de_n|| on the word-embedding rows ("vanilla gradient").
    #[serde(rename = "grad-norm")]
    GradNorm,
    /// dy/de_n . e_n on the word-embedding rows ("gradient x input").
    #[serde(rename = "gxa")]
    Gxa,
    /// Integrated gradients on the word embeddings from the [PAD] baseline.
    #[serde(rename = "ig")]
    IntegratedGradients,
    /// Gradient x activation at the chosen layer, position n credited to token n (no decoding).
    #[serde(rename = "layer-gxa")]
    LayerGxa,
    /// Last-layer attention from [CLS], averaged over heads.
    #[serde(rename = "attention")]
    Attention,
    /// Attention rollout (Abnar & Zuidema 2020), read from [CLS].
    #[serde(rename = "rollout")]
    Rollout,
    /// Leave-one-out: y(x) - y(x without token n).
    #[serde(rename = "occlusion")]
    Occlusion,
    /// Seeded random scores: the floor every method must beat.
    #[serde(rename = "random")]
    Random,
}

impl Method {
    pub const ALL: [Method; 9] = [
        Method::Dls,
        Method::GradNorm,
        Method::Gxa,
        Method::IntegratedGradients,
        Method::LayerGxa,
        Method::Attention,
        Method::Rollout,
        Method::Occlusion,
        Method::Random,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Method::Dls => "dls",
            Method::GradNorm => "grad-norm",
            Method::Gxa => "gxa",
            Method::IntegratedGradients => "ig",
            Method::LayerGxa => "layer-gxa",
            Method::Attention => "attention",
            Method::Rollout => "rollout",
            Method::Occlusion => "occlusion",
            Method::Random => "random",
        }
    }

    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name).ok_or_else(|| Error::Option {
            option: "method".into(),
            reason: format!("unknown method `{name}`; choose one of {}", Self::ALL.map(Method::name).join(", ")),
        })
    }
}

/// The feature aggregation g that turns a layer's gradient into one score per position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Aggregation {
    /// sum_k G_{n,k} H_{n,k}: gradient x activation, signed.
    #[serde(rename = "gxa")]
    Gxa,
    /// ||G_n||_2: unsigned.
    #[serde(rename = "grad-norm")]
    GradNorm,
    /// ReLU(sum_k mean_n(G_{n,k}) H_{n,k}): Grad-CAM over positions.
    #[serde(rename = "gradcam")]
    GradCam,
}

impl Aggregation {
    pub const ALL: [Aggregation; 3] = [Aggregation::Gxa, Aggregation::GradNorm, Aggregation::GradCam];

    pub fn name(self) -> &'static str {
        match self {
            Aggregation::Gxa => "gxa",
            Aggregation::GradNorm => "grad-norm",
            Aggregation::GradCam => "gradcam",
        }
    }

    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name).ok_or_else(|| Error::Option {
            option: "agg".into(),
            reason: format!("unknown aggregation `{name}`; choose gxa, grad-norm or gradcam"),
        })
    }
}

/// Which layer's decoded saliency is the explanation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LayerChoice {
    /// The deepest layer whose coherence reaches theta (method.md section 6).
    #[default]
    Auto,
    Fixed(usize),
}

impl LayerChoice {
    pub fn parse(text: &str) -> Result<Self> {
        if text == "auto" {
            return Ok(Self::Auto);
        }
        text.parse().map(Self::Fixed).map_err(|_| Error::Option {
            option: "layer".into(),
            reason: format!("`{text}` is neither `auto` nor a layer number"),
        })
    }
}

/// A class, named by index or by label; resolved against the model's labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClassChoice {
    Index(usize),
    Label(String),
}

impl ClassChoice {
    /// A number is an index, anything else a label name.
    pub fn parse(text: &str) -> Self {
        match text.parse() {
            Ok(i) => Self::Index(i),
            Err(_) => Self::Label(text.to_string()),
        }
    }

    pub fn resolve(&self, labels: &[String], option: &str) -> Result<usize> {
        let err = |what: String| Error::Option {
            option: option.into(),
            reason: format!("{what}; the classes are {}", describe_labels(labels)),
        };
        match self {
            ClassChoice::Index(i) if *i < labels.len() => Ok(*i),
            ClassChoice::Index(i) => Err(err(format!("class {i} does not exist"))),
            ClassChoice::Label(name) => labels
                .iter()
                .position(|l| l == name)
                .or_else(|| labels.iter().position(|l| l.eq_ignore_ascii_case(name)))
                .ok_or_else(|| err(format!("no class is called `{name}`"))),
        }
    }
}

fn describe_labels(labels: &[String]) -> String {
    let shown: Vec<String> = labels.iter().take(12).enumerate().map(|(i, l)| format!("{i}={l}")).collect();
    let more = if labels.len() > 12 { format!(", ... ({} in all)", labels.len()) } else { String::new() };
    format!("{}{more}", shown.join(", "))
}

/// Which decoder maps hidden states onto the vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DecoderChoice {
    /// The model's LM head (or the LM-head checkpoint given), else tied embeddings.
    #[default]
    Model,
    /// Always the tied word-embedding matrix (a "logit lens").
    TiedEmbeddings,
}

/// All options of one explanation, with method.md's defaults.
#[derive(Debug, Clone)]
pub struct Options {
    pub method: Method,
    pub aggregation: Aggregation,
    /// Number of top decoded ids per position that can be credited (method.md section 4).
    pub tau: usize,
    /// Coherence a layer must reach to be chosen automatically (section 6).
    pub theta: f32,
    pub layer: LayerChoice,
    /// The class explained; `None` = the predicted class.
    pub target: Option<ClassChoice>,
    /// Explain z_target - z_contrast ("why this class rather than that one").
    pub contrast: Option<ClassChoice>,
    pub decoder: DecoderChoice,
    /// Integrated-gradients steps.
    pub ig_steps: usize,
    /// Seed of the random control.
    pub seed: u64,
    /// Compute ERASER faithfulness for this input (costs a batch of forward passes).
    pub faithfulness: bool,
    /// How many decoded tokens per position the result reports.
    pub decoded_top: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            method: Method::Dls,
            aggregation: Aggregation::Gxa,
            tau: 10,
            theta: 0.5,
            layer: LayerChoice::Auto,
            target: None,
            contrast: None,
            decoder: DecoderChoice::Model,
            ig_steps: 32,
            seed: 0,
            faithfulness: true,
            decoded_top: 5,
        }
    }
}

/// Upper bounds that keep a request from hanging the page.
pub const MAX_TAU: usize = 1000;
pub const MAX_IG_STEPS: usize = 512;
/// Occlusion runs the model once per token (n passes of n tokens): about a minute at 256
/// tokens on one core, so longer texts are refused rather than left to look hung.
pub const MAX_OCCLUSION_TOKENS: usize = 256;

impl Options {
    /// Checks ranges that do not depend on the model.
    pub fn validate(&self, num_layers: usize) -> Result<()> {
        let bad = |option: &str, reason: String| Err(Error::Option { option: option.into(), reason });
        if self.tau == 0 || self.tau > MAX_TAU {
            return bad("tau", format!("{} is out of range 1..={MAX_TAU}", self.tau));
        }
        if !(0.0..=1.0).contains(&self.theta) || self.theta.is_nan() {
            return bad("theta", format!("{} is outside [0, 1]", self.theta));
        }
        if let LayerChoice::Fixed(l) = self.layer {
            if l > num_layers {
                return bad("layer", format!("layer {l} does not exist (0..={num_layers}; 0 is the embedding output)"));
            }
        }
        if self.ig_steps == 0 || self.ig_steps > MAX_IG_STEPS {
            return bad("ig-steps", format!("{} is out of range 1..={MAX_IG_STEPS}", self.ig_steps));
        }
        if self.decoded_top == 0 || self.decoded_top > 50 {
            return bad("decoded-top", format!("{} is out of range 1..=50", self.decoded_top));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_names_round_trip() {
        for m in Method::ALL {
            assert_eq!(Method::parse(m.name()).unwrap(), m);
            assert_eq!(serde_json::to_value(m).unwrap(), m.name());
        }
        assert!(Method::parse("lime").unwrap_err().to_string().contains("dls"));
    }

    #[test]
    fn classes_resolve_by_index_or_label() {
        let labels: Vec<String> = ["negative", "neutral", "positive"].map(String::from).to_vec();
        assert_eq!(ClassChoice::parse("2").resolve(&labels, "target").unwrap(), 2);
        assert_eq!(ClassChoice::parse("Positive").resolve(&labels, "target").unwrap(), 2);
        let err = ClassChoice::parse("joy").resolve(&labels, "target").unwrap_err().to_string();
        assert!(err.contains("joy") && err.contains("0=negative"), "{err}");
        assert!(ClassChoice::parse("3").resolve(&labels, "target").is_err());
    }

    #[test]
    fn out_of_range_options_are_rejected() {
        let ok = Options::default();
        assert!(ok.validate(6).is_ok());
        assert!(Options { tau: 0, ..ok.clone() }.validate(6).is_err());
        assert!(Options { theta: 1.5, ..ok.clone() }.validate(6).is_err());
        assert!(Options { layer: LayerChoice::Fixed(7), ..ok.clone() }.validate(6).is_err());
        assert!(Options { layer: LayerChoice::Fixed(6), ..ok }.validate(6).is_ok());
    }
}

/// Options as they arrive from outside (CLI flags, the page's JSON): every field optional
/// and loosely typed. [`OptionsRequest::to_options`] is the one place they are parsed, so
/// the CLI and the browser accept exactly the same values with the same messages.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptionsRequest {
    pub method: Option<String>,
    /// "auto" or a layer number (as a number or a string).
    pub layer: Option<serde_json::Value>,
    /// A class index (number or string) or a label.
    pub target: Option<serde_json::Value>,
    pub contrast: Option<serde_json::Value>,
    pub agg: Option<String>,
    pub tau: Option<usize>,
    pub theta: Option<f32>,
    /// "model" or "tied".
    pub decoder: Option<String>,
    pub ig_steps: Option<usize>,
    pub seed: Option<u64>,
    pub faithfulness: Option<bool>,
}

fn value_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl OptionsRequest {
    pub fn to_options(&self) -> Result<Options> {
        let defaults = Options::default();
        let class = |v: &Option<serde_json::Value>| -> Option<ClassChoice> {
            v.as_ref()
                .filter(|v| !v.is_null())
                .map(value_text)
                .filter(|s| !s.is_empty())
                .map(|s| ClassChoice::parse(&s))
        };
        let decoder = match self.decoder.as_deref() {
            None | Some("model") => DecoderChoice::Model,
            Some("tied") => DecoderChoice::TiedEmbeddings,
            Some(other) => {
                return Err(Error::Option {
                    option: "decoder".into(),
                    reason: format!("`{other}` is neither `model` nor `tied`"),
                })
            }
        };
        Ok(Options {
            method: self.method.as_deref().map(Method::parse).transpose()?.unwrap_or(defaults.method),
            aggregation: self.agg.as_deref().map(Aggregation::parse).transpose()?.unwrap_or(defaults.aggregation),
            layer: self.layer.as_ref().map(|v| LayerChoice::parse(&value_text(v))).transpose()?.unwrap_or_default(),
            target: class(&self.target),
            contrast: class(&self.contrast),
            tau: self.tau.unwrap_or(defaults.tau),
            theta: self.theta.unwrap_or(defaults.theta),
            decoder,
            ig_steps: self.ig_steps.unwrap_or(defaults.ig_steps),
            seed: self.seed.unwrap_or(defaults.seed),
            faithfulness: self.faithfulness.unwrap_or(defaults.faithfulness),
            ..defaults
        })
    }

    /// Parses the page's JSON options.
    pub fn from_json(json: &str) -> Result<Self> {
        serde_json::from_str(json).map_err(|e| Error::Option { option: "options".into(), reason: e.to_string() })
    }
}

#[cfg(test)]
mod request_tests {
    use super::*;

    #[test]
    fn a_json_request_becomes_options() {
        let r =
            OptionsRequest::from_json(r#"{"method":"ig","layer":3,"target":"positive","contrast":0,"tau":5}"#).unwrap();
        let o = r.to_options().unwrap();
        assert_eq!(o.method, Method::IntegratedGradients);
        assert_eq!(o.layer, LayerChoice::Fixed(3));
        assert_eq!(o.target, Some(ClassChoice::Label("positive".into())));
        assert_eq!(o.contrast, Some(ClassChoice::Index(0)));
        assert_eq!(o.tau, 5);
        assert_eq!(o.theta, 0.5);
        let empty = OptionsRequest::from_json("{}").unwrap().to_options().unwrap();
        assert_eq!(empty.method, Method::Dls);
        assert!(OptionsRequest::from_json(r#"{"methd":"dls"}"#).unwrap_err().to_string().contains("methd"));
        assert!(OptionsRequest::from_json(r#"{"layer":"top"}"#).unwrap().to_options().is_err());
    }
}
