//! Printers: every command's output is formed here, from the library's structs.

use layer_saliency::explain::Explanation;
use layer_saliency::gradients::{softmax, LayerGradients};
use layer_saliency::metrics::evaluation::EvalTable;
use layer_saliency::model::input::Token;
use layer_saliency::model::Model;
use layer_saliency::saliency::decode::DecodedLayer;
use layer_saliency::{Error, Result};
use serde::Serialize;
use std::io::IsTerminal;

/// Any serialisable result as one JSON object on stdout.
pub fn json<T: Serialize>(value: &T) -> Result<()> {
    let text = serde_json::to_string(value).map_err(|e| Error::Input(format!("cannot serialise the result: {e}")))?;
    println!("{text}");
    Ok(())
}

/// Colour only for a terminal, and never when NO_COLOR is set (no-color.org).
pub fn use_colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Diverging, colour-blind-safe background: blue for negative, orange for positive,
/// white at zero (the endpoints of ColorBrewer's RdBu/PuOr family that stay distinct under
/// the common colour-vision deficiencies).
fn background(score: f32, scale: f32) -> (u8, u8, u8) {
    let t = if scale > 0.0 { (score / scale).clamp(-1.0, 1.0) } else { 0.0 };
    let (end, w) = if t >= 0.0 { ((230.0, 97.0, 1.0), t) } else { ((33.0, 102.0, 172.0), -t) };
    let mix = |a: f32, b: f32| (a + (b - a) * w).round() as u8;
    (mix(255.0, end.0), mix(255.0, end.1), mix(255.0, end.2))
}

/// The readable view of `saliency explain`.
pub fn explanation(e: &Explanation, colour: bool) {
    let m = &e.model;
    println!(
        "model      {} ({} layers, hidden {}, decoder {:?}, {})",
        m.name, m.layers, m.hidden_size, m.decoder, m.quant
    );
    let mut ranked: Vec<usize> = (0..e.labels.len()).collect();
    ranked.sort_by(|&a, &b| e.probs[b].total_cmp(&e.probs[a]));
    let shown: Vec<String> = ranked.iter().take(5).map(|&i| format!("{} {:.3}", e.labels[i], e.probs[i])).collect();
    println!("prediction {}", shown.join(" | "));
    let versus = e.contrast.map_or(String::new(), |c| format!(" rather than {}", e.labels[c]));
    println!("explains   {}{versus} (score {:.4})", e.labels[e.target], e.score);
    let layer = if e.layer_auto { format!("{} (auto, theta {})", e.layer, e.theta) } else { e.layer.to_string() };
    println!("method     {} at layer {layer}, aggregation {:?}, tau {}", e.method.name(), e.aggregation, e.tau);
    if e.windows.is_some() {
        // The windows note: how a text longer than the model reads was explained.
        println!("windows    {}", e.notes[0]);
    }
    println!();

    let scale = e.words.iter().map(|w| w.saliency.abs()).fold(0.0, f32::max);
    let chars: Vec<char> = e.text.chars().collect();
    let mut line = String::new();
    let mut at = 0;
    for w in &e.words {
        line.extend(&chars[at.min(w.start)..w.start]);
        let word: String = chars[w.start..w.end].iter().collect();
        if colour {
            let (r, g, b) = background(w.saliency, scale);
            line.push_str(&format!("\x1b[48;2;{r};{g};{b}m\x1b[38;2;0;0;0m{word}\x1b[0m"));
        } else {
            line.push_str(&word);
        }
        at = w.end;
    }
    line.extend(&chars[at.min(chars.len())..]);
    println!("{line}");
    println!();
    let width = e.words.iter().map(|w| w.text.chars().count()).max().unwrap_or(4).min(24);
    for w in &e.words {
        let bar = "#".repeat(((w.saliency.abs() / scale.max(1e-12)) * 20.0).round() as usize);
        let sign = if w.saliency < 0.0 { "-" } else { "+" };
        println!("  {:<width$} {:>+10.4} {sign}{bar}", w.text.chars().take(24).collect::<String>(), w.saliency);
    }
    if !e.layers.is_empty() {
        println!();
        println!("layer coherence (self-recovery, unassigned saliency)");
        for l in &e.layers {
            let bar = "#".repeat((l.coherence * 30.0).round() as usize);
            let mark = if l.layer == e.layer { " <" } else { "" };
            println!(
                "  {:>2} {:<30} {:.3}  ({:.2}, {:.0}%){mark}",
                l.layer,
                bar,
                l.coherence,
                l.self_recovery,
                l.unassigned * 100.0
            );
        }
    }
    if let Some(f) = &e.faithfulness {
        println!();
        println!(
            "faithfulness  AOPC comprehensiveness {:.4} (higher is better), sufficiency {:.4} (lower is better)",
            f.aopc_comprehensiveness, f.aopc_sufficiency
        );
        println!("              {}", f.perturbation);
    }
    if e.faithfulness.is_none() {
        if let Some(note) = e.notes.iter().find(|n| n.starts_with("Faithfulness was not measured")) {
            println!();
            println!("faithfulness  {note}");
        }
    }
    if let Some(ig) = &e.integrated_gradients {
        println!("integrated gradients  {} steps, completeness error {:.2}%", ig.steps, ig.completeness_error * 100.0);
    }
    let times: Vec<String> = e.timing_ms.0.iter().map(|(s, ms)| format!("{s} {ms:.1}")).collect();
    println!();
    println!("time (ms)  {} | total {:.1}", times.join(", "), e.timing_ms.total());
}

/// The table of `saliency eval`.
pub fn eval_table(t: &EvalTable) {
    println!("{} texts; perturbation: {}", t.texts, t.perturbation);
    println!("{:<10} {:>6} {:>12} {:>12} {:>10}", "method", "layer", "AOPC comp", "AOPC suff", "median ms");
    println!("{:<10} {:>6} {:>12} {:>12} {:>10}", "", "", "(higher)", "(lower)", "");
    for r in &t.rows {
        let layer = match &r.layer {
            serde_json::Value::Null => "-".to_string(),
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        println!(
            "{:<10} {:>6} {:>12.4} {:>12.4} {:>10.1}",
            r.method.name(),
            layer,
            r.aopc_comprehensiveness,
            r.aopc_sufficiency,
            r.median_ms
        );
    }
    for (i, why) in &t.skipped {
        println!("skipped text {i}: {why}");
    }
}

#[derive(Serialize)]
struct TopToken {
    id: u32,
    token: String,
    logit: f32,
}

#[derive(Serialize)]
struct GradsOutput<'a> {
    labels: &'a [String],
    logits: &'a [f32],
    probs: Vec<f32>,
    target: usize,
    decoder: layer_saliency::model::heads::DecoderKind,
    tokens: &'a [Token],
    hidden: Vec<Vec<Vec<f32>>>,
    grads: Vec<Vec<Vec<f32>>>,
    lm_logits_top: Vec<Vec<Vec<TopToken>>>,
}

/// `saliency grads --json`: one JSON object on stdout.
pub fn grads_json(model: &Model, tokens: &[Token], lg: &LayerGradients, decoded: &[DecodedLayer]) -> Result<()> {
    let to_vec = |ts: &[candle_core::Tensor]| -> Result<Vec<Vec<Vec<f32>>>> {
        ts.iter().map(|t| Ok(t.to_vec2::<f32>()?)).collect()
    };
    json(&GradsOutput {
        labels: &model.labels,
        logits: &lg.logits,
        probs: softmax(&lg.logits),
        target: lg.objective.class,
        decoder: model.decoder.kind(),
        tokens,
        hidden: to_vec(&lg.hidden)?,
        grads: to_vec(&lg.grads)?,
        lm_logits_top: decoded
            .iter()
            .map(|layer| {
                layer
                    .positions
                    .iter()
                    .map(|top| {
                        top.iter()
                            .map(|d| TopToken { id: d.id, token: model.text.id_to_token(d.id), logit: d.logit })
                            .collect()
                    })
                    .collect()
            })
            .collect(),
    })
}
