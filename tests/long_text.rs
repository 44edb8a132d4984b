//! Texts longer than the model's positions: explained in overlapping windows and stitched
//! back onto the whole text. The small golden BERT reads 64 positions, so a few hundred
//! words make several windows and the tests stay fast.

mod common;

use common::*;
use layer_saliency::options::{ClassChoice, LayerChoice};
use layer_saliency::{Explainer, Explanation, Options};

/// A seeded text of `words` words that the golden vocabulary holds whole (one token
/// each), so a window's tokens are exactly those of the text it covers, read alone.
fn review(words: usize, seed: u64) -> String {
    const VOCAB: &[&str] = &[
        "the",
        "movie",
        "was",
        "good",
        "bad",
        "plot",
        "acting",
        "great",
        "terrible",
        "and",
        "but",
        "not",
        "music",
        "boring",
        "fun",
        "i",
        "love",
        "hate",
        "ending",
        "story",
        "very",
        "really",
        "slow",
        "beautiful",
        "cast",
        "awful",
        "excellent",
        "funny",
        "sad",
        "film",
        "script",
        "dull",
        "wonderful",
        ".",
    ];
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..words)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            VOCAB[(state >> 33) as usize % VOCAB.len()]
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn explainer() -> Explainer {
    Explainer::new(Golden::load("bert_prefixed").files.load().unwrap(), "t", "f32")
}

/// The characters window `w` covers, as a text of its own.
fn window_text(e: &Explanation, w: usize) -> String {
    let (start, end) = e.windows.as_ref().unwrap().spans[w];
    let chars: Vec<char> = e.text.chars().collect();
    chars[e.tokens[start].start..e.tokens[end - 1].end].iter().collect()
}

#[test]
fn a_long_text_is_explained_in_windows_over_the_whole_text() {
    let ex = explainer();
    for seed in [1, 2] {
        let text = review(230, seed);
        let e = ex.explain(&text, &Options::default(), true).unwrap();
        let w = e.windows.as_ref().expect("a 232-token text is windowed by a 64-position model");
        assert_eq!(w.tokens, e.tokens.len());
        assert_eq!(w.max_positions, 64);
        assert!(w.spans.len() >= 4, "{:?}", w.spans);
        assert_eq!(w.spans[0].0, 1);
        assert_eq!(w.spans.last().unwrap().1, e.tokens.len() - 1);
        for pair in w.spans.windows(2) {
            assert!(pair[0].1 >= pair[1].0 + w.overlap && w.overlap >= 62 / 4, "{:?}", w.spans);
        }
        // Every score is over the whole text, every word maps onto its characters.
        assert_eq!(e.saliency.len(), e.tokens.len());
        assert!(e.saliency.iter().all(|s| s.is_finite()));
        assert_eq!(e.saliency[0], 0.0);
        assert_eq!(*e.saliency.last().unwrap(), 0.0);
        assert_eq!(e.words.len(), 230);
        let chars: Vec<char> = text.chars().collect();
        for word in &e.words {
            assert_eq!(word.text, chars[word.start..word.end].iter().collect::<String>());
        }
        for layer in &e.layers {
            assert_eq!(layer.saliency.len(), e.tokens.len());
            assert!((0.0..=1.0).contains(&layer.coherence));
            for (t, decoded) in e.tokens.iter().zip(&layer.decoded) {
                assert_eq!(decoded.is_empty(), t.special, "layer {}", layer.layer);
            }
        }
        assert!(e.notes[0].contains("overlapping windows"), "{:?}", e.notes);
        // Faithfulness would need every window again for each perturbation: said, not faked.
        assert!(e.faithfulness.is_none());
        assert!(e.notes.iter().any(|n| n.contains("Faithfulness was not measured")), "{:?}", e.notes);
        // Deterministic.
        let again = ex.explain(&text, &Options::default(), true).unwrap();
        assert_eq!(again.saliency, e.saliency);
    }
}

/// The stitched result agrees with explaining each window's text alone: the prediction is
/// the mean of the windows' probabilities, and a token that only one window holds keeps
/// that window's score at every layer.
#[test]
fn windows_agree_with_their_texts_explained_alone() {
    let ex = explainer();
    let text = review(150, 7);
    let e = ex.explain(&text, &Options { faithfulness: false, ..Options::default() }, true).unwrap();
    let spans = e.windows.as_ref().unwrap().spans.clone();
    let alone_options = Options {
        target: Some(ClassChoice::Index(e.target)),
        layer: LayerChoice::Fixed(e.layer),
        faithfulness: false,
        ..Options::default()
    };
    let mut mean = vec![0.0f32; e.probs.len()];
    for (w, &(start, end)) in spans.iter().enumerate() {
        let alone = ex.explain(&window_text(&e, w), &alone_options, true).unwrap();
        assert!(alone.windows.is_none());
        let ids: Vec<u32> = alone.tokens.iter().map(|t| t.id).collect();
        let expected: Vec<u32> = std::iter::once(e.tokens[0].id)
            .chain(e.tokens[start..end].iter().map(|t| t.id))
            .chain(std::iter::once(e.tokens.last().unwrap().id))
            .collect();
        assert_eq!(ids, expected, "window {w} read alone has other tokens");
        for (m, p) in mean.iter_mut().zip(&alone.probs) {
            *m += p / spans.len() as f32;
        }
        // Tokens no other window holds.
        let only_here = (start..end).filter(|g| spans.iter().filter(|s| (s.0..s.1).contains(g)).count() == 1);
        for g in only_here {
            let local = 1 + g - start;
            for l in 0..e.layers.len() {
                let (stitched, own) = (e.layers[l].saliency[g], alone.layers[l].saliency[local]);
                assert!(
                    (stitched - own).abs() <= 1e-6 * own.abs().max(1e-3),
                    "window {w} token {g} layer {l}: {stitched} vs {own}"
                );
            }
        }
    }
    assert!(max_rel_error(&e.probs, &mean) < 1e-5, "{:?} vs {mean:?}", e.probs);
    assert_eq!(e.predicted, layer_saliency::gradients::argmax(&mean));
}

/// Every method but integrated gradients (32 passes per window) works on a windowed text,
/// with the layer chosen for the whole text; IG, and occlusion past 256 tokens (one pass
/// per token), get a message saying why instead of minutes of work.
#[test]
fn every_affordable_method_explains_a_windowed_text() {
    use layer_saliency::options::{Method, MAX_OCCLUSION_TOKENS};
    let ex = explainer();
    let text = review(100, 3);
    let occlusion = Options { method: Method::Occlusion, faithfulness: false, ..Options::default() };
    let err = ex.explain(&review(MAX_OCCLUSION_TOKENS, 3), &occlusion, false).unwrap_err().to_string();
    assert!(err.contains("minutes of work") && err.contains("256 tokens"), "{err}");
    for method in Method::ALL {
        let options = Options { method, ig_steps: 4, faithfulness: false, ..Options::default() };
        if method == Method::IntegratedGradients {
            let err = ex.explain(&text, &options, false).unwrap_err().to_string();
            assert!(err.contains("minutes of work") && err.contains("choose another method"), "{err}");
            continue;
        }
        let e = ex.explain(&text, &options, false).unwrap_or_else(|err| panic!("{}: {err}", method.name()));
        assert!(e.windows.is_some(), "{}", method.name());
        assert_eq!(e.saliency.len(), e.tokens.len(), "{}", method.name());
        assert!(e.saliency.iter().all(|s| s.is_finite()), "{}", method.name());
        assert!(e.saliency.iter().any(|&s| s != 0.0), "{}: all zero", method.name());
    }
}

#[test]
fn progress_is_reported_window_by_window() {
    let ex = explainer();
    let mut seen = Vec::new();
    let options = Options { faithfulness: false, ..Options::default() };
    let e = ex
        .explain_with_progress(&review(120, 5), &options, false, &mut |done, total| seen.push((done, total)))
        .unwrap();
    let total = e.windows.unwrap().spans.len();
    assert_eq!(seen, (0..=total).map(|d| (d, total)).collect::<Vec<_>>());
    let mut short = Vec::new();
    ex.explain_with_progress("good fun", &options, false, &mut |d, t| short.push((d, t))).unwrap();
    assert_eq!(short, vec![(1, 1)]);
}
