//! Decoded layer saliency and its baselines through the public `Explainer`, on the golden
//! checkpoints: every method, the options, words, integrated gradients' completeness.

mod common;

use common::*;
use layer_saliency::metrics::coherence::choose_layer;
use layer_saliency::options::{ClassChoice, LayerChoice, Method, Options};
use layer_saliency::Explainer;

fn explainer(case: &str) -> Explainer {
    Explainer::new(Golden::load(case).files.load().unwrap(), case, "f32")
}

const TEXT: &str = "this movie was not good , but the acting was great !";

#[test]
fn every_method_scores_every_token_and_never_the_specials() {
    for case in ["bert_prefixed", "distilbert", "bert_noprefix_tied"] {
        let ex = explainer(case);
        for method in Method::ALL {
            // At the last layer of a [CLS]-pooled model only [CLS] has a gradient, so
            // layer-gxa (which never credits specials) is all zero there by construction.
            let layer = if method == Method::LayerGxa { LayerChoice::Fixed(1) } else { LayerChoice::Auto };
            let options = Options { method, layer, ig_steps: 8, ..Options::default() };
            let e = ex.explain(TEXT, &options, false).unwrap_or_else(|err| panic!("{case} {method:?}: {err}"));
            assert_eq!(e.saliency.len(), e.tokens.len(), "{case} {method:?}");
            assert!(e.saliency.iter().all(|s| s.is_finite()), "{case} {method:?}: non-finite score");
            for (t, s) in e.tokens.iter().zip(&e.saliency) {
                if t.special {
                    assert_eq!(*s, 0.0, "{case} {method:?}: a special token got credit");
                }
            }
            assert!(e.saliency.iter().any(|s| *s != 0.0), "{case} {method:?}: all scores zero");
            let f = e.faithfulness.as_ref().unwrap();
            assert_eq!(f.comprehensiveness.len(), 5);
        }
    }
}

/// The golden DistilBERT (random weights of std 0.3 and a ReLU before its classifier) has
/// a kinked path integral, so the midpoint rule converges slowly there; the 1% bound is
/// checked on the smooth models, including the real MiniLM weights.
#[test]
fn integrated_gradients_are_complete_within_one_percent_at_64_steps() {
    for case in ["bert_prefixed", "bert_legacy_untied", "minilm"] {
        let ex = explainer(case);
        let options =
            Options { method: Method::IntegratedGradients, ig_steps: 64, faithfulness: false, ..Options::default() };
        let e = ex.explain(TEXT, &options, false).unwrap();
        let ig = e.integrated_gradients.unwrap();
        assert!(ig.delta.abs() > 1e-3, "{case}: y(x) = y(baseline), nothing to attribute");
        assert!(ig.completeness_error < 0.01, "{case}: completeness error {}", ig.completeness_error);
        let total: f32 = e.saliency.iter().sum();
        assert!((total - ig.delta).abs() <= 0.01 * ig.delta.abs());
    }
}

#[test]
fn words_sum_their_pieces_and_rebuild_the_text() {
    let ex = explainer("bert_legacy_untied");
    let text = "Café crème was boringly unwatchable 🙂 really";
    let e = ex.explain(text, &Options::default(), true).unwrap();
    let chars: Vec<char> = text.chars().collect();
    for w in &e.words {
        assert_eq!(w.text, chars[w.start..w.end].iter().collect::<String>());
        let sum: f32 = w.tokens.iter().map(|&t| e.saliency[t]).sum();
        assert!((sum - w.saliency).abs() < 1e-6);
    }
    let unwatchable = e.words.iter().find(|w| w.text == "unwatchable").expect("one word");
    assert!(unwatchable.tokens.len() > 1, "split into pieces");
    assert!(e.words.iter().any(|w| w.text == "🙂"), "the emoji keeps its characters");
    assert!(e.words.iter().any(|w| w.text == "Café"), "accents and case survive");
}

#[test]
fn dls_shows_the_chosen_layer_and_auto_follows_coherence() {
    let ex = explainer("bert_prefixed");
    let auto = ex.explain(TEXT, &Options::default(), true).unwrap();
    let coherences: Vec<f32> = auto.layers.iter().map(|l| l.coherence).collect();
    assert_eq!(auto.layers.len(), 3);
    assert_eq!(auto.layer, choose_layer(&coherences, 0.5));
    assert_eq!(auto.saliency, auto.layers[auto.layer].saliency);
    for l in 0..=2 {
        let fixed = ex.explain(TEXT, &Options { layer: LayerChoice::Fixed(l), ..Options::default() }, true).unwrap();
        assert_eq!(fixed.saliency, auto.layers[l].saliency);
        assert!(!fixed.layer_auto);
    }
}

#[test]
fn target_and_contrast_can_be_chosen_by_label() {
    let ex = explainer("distilbert");
    let options = Options {
        target: Some(ClassChoice::parse("positive")),
        contrast: Some(ClassChoice::parse("0")),
        ..Options::default()
    };
    let e = ex.explain(TEXT, &options, true).unwrap();
    assert_eq!((e.target, e.contrast), (2, Some(0)));
    assert!((e.score - (e.logits[2] - e.logits[0])).abs() < 1e-5);

    let same = Options {
        target: Some(ClassChoice::parse("1")),
        contrast: Some(ClassChoice::parse("neutral")),
        ..Options::default()
    };
    let err = ex.explain(TEXT, &same, true).unwrap_err().to_string();
    assert!(err.contains("contrast"), "{err}");
    let unknown = Options { target: Some(ClassChoice::parse("joy")), ..Options::default() };
    assert!(ex.explain(TEXT, &unknown, true).unwrap_err().to_string().contains("joy"));
}

#[test]
fn the_same_input_gives_the_same_output() {
    let ex = explainer("bert_noprefix_tied");
    let run = || {
        let mut v = serde_json::to_value(ex.explain(TEXT, &Options::default(), true).unwrap()).unwrap();
        v.as_object_mut().unwrap().remove("timing_ms");
        v
    };
    assert_eq!(run(), run());
}

#[test]
fn empty_and_blank_texts_get_a_clear_message() {
    let ex = explainer("bert_prefixed");
    for text in ["", "   \n\t "] {
        let err = ex.explain(text, &Options::default(), true).unwrap_err().to_string();
        assert!(err.contains("empty"), "{text:?}: {err}");
    }
}

#[test]
fn the_decoder_can_be_switched_to_tied_embeddings() {
    use layer_saliency::options::DecoderChoice;
    let ex = explainer("bert_prefixed");
    let model = ex.explain(TEXT, &Options::default(), true).unwrap();
    let tied =
        ex.explain(TEXT, &Options { decoder: DecoderChoice::TiedEmbeddings, ..Options::default() }, true).unwrap();
    assert_eq!(serde_json::to_value(model.model.decoder).unwrap(), "bert_mlm");
    assert_eq!(serde_json::to_value(tied.model.decoder).unwrap(), "tied_embeddings");
    assert_ne!(model.layers[1].decoded, tied.layers[1].decoded);
}

#[test]
fn integrated_gradients_converge_as_steps_grow_even_on_a_kinked_path() {
    let ex = explainer("distilbert");
    let error = |steps| {
        let options =
            Options { method: Method::IntegratedGradients, ig_steps: steps, faithfulness: false, ..Options::default() };
        ex.explain(TEXT, &options, false).unwrap().integrated_gradients.unwrap().completeness_error
    };
    let (coarse, fine) = (error(8), error(256));
    assert!(fine < coarse / 10.0, "8 steps: {coarse}, 256 steps: {fine}");
}
