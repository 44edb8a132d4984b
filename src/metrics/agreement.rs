//! How well a model classifies labelled texts, and how much two models (say f32 and
//! quantized) agree on their explanations: the proof that quantization keeps both.

use crate::error::{Error, Result};
use crate::explain::Explainer;
use crate::gradients::argmax;
use crate::model::SequenceClassifier;
use crate::options::Options;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Accuracy {
    pub texts: usize,
    pub accuracy: f32,
    pub macro_f1: f32,
}

/// Accuracy and macro-F1 over `(label, text)` pairs; labels are matched to the model's
/// class names. Texts are classified in padded batches.
pub fn accuracy(model: &crate::model::Model, labelled: &[(String, String)]) -> Result<Accuracy> {
    let classes = model.labels.len();
    let mut gold = Vec::with_capacity(labelled.len());
    let mut sequences = Vec::with_capacity(labelled.len());
    for (label, text) in labelled {
        let index = model.labels.iter().position(|l| l == label).ok_or_else(|| {
            Error::Input(format!("label `{label}` is not a class of this model ({})", model.labels.join(", ")))
        })?;
        gold.push(index);
        sequences.push(model.text.encode(text)?.iter().map(|t| t.id).collect::<Vec<u32>>());
    }
    // Similar lengths together keep padding small.
    let mut order: Vec<usize> = (0..sequences.len()).collect();
    order.sort_by_key(|&i| sequences[i].len());
    let mut predicted = vec![0usize; sequences.len()];
    for chunk in order.chunks(32) {
        let batch: Vec<Vec<u32>> = chunk.iter().map(|&i| sequences[i].clone()).collect();
        for (&i, logits) in chunk.iter().zip(model.logits_batch(&batch)?) {
            predicted[i] = argmax(&logits);
        }
    }
    let correct = gold.iter().zip(&predicted).filter(|(g, p)| g == p).count();
    let mut f1_sum = 0f32;
    for c in 0..classes {
        let tp = gold.iter().zip(&predicted).filter(|(g, p)| **g == c && **p == c).count() as f32;
        let fp = gold.iter().zip(&predicted).filter(|(g, p)| **g != c && **p == c).count() as f32;
        let fn_ = gold.iter().zip(&predicted).filter(|(g, p)| **g == c && **p != c).count() as f32;
        f1_sum += if tp == 0.0 { 0.0 } else { 2.0 * tp / (2.0 * tp + fp + fn_) };
    }
    Ok(Accuracy {
        texts: gold.len(),
        accuracy: correct as f32 / gold.len().max(1) as f32,
        macro_f1: f1_sum / classes.max(1) as f32,
    })
}

/// Spearman rank correlation (average ranks for ties); NaN when either side is constant.
pub fn spearman(a: &[f32], b: &[f32]) -> f32 {
    fn ranks(v: &[f32]) -> Vec<f32> {
        let mut order: Vec<usize> = (0..v.len()).collect();
        order.sort_by(|&i, &j| v[i].total_cmp(&v[j]));
        let mut r = vec![0f32; v.len()];
        let mut i = 0;
        while i < order.len() {
            let mut j = i;
            while j + 1 < order.len() && v[order[j + 1]] == v[order[i]] {
                j += 1;
            }
            let mean = (i + j) as f32 / 2.0;
            for k in i..=j {
                r[order[k]] = mean;
            }
            i = j + 1;
        }
        r
    }
    let (ra, rb) = (ranks(a), ranks(b));
    let n = a.len() as f32;
    let (ma, mb) = (ra.iter().sum::<f32>() / n, rb.iter().sum::<f32>() / n);
    let cov: f32 = ra.iter().zip(&rb).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f32 = ra.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f32 = rb.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

#[derive(Debug, Clone, Serialize)]
pub struct Agreement {
    pub texts: usize,
    /// Mean Spearman correlation of word saliency over texts with at least 3 words, each
    /// model explaining its own predicted class: where the predictions differ, two
    /// different questions are compared.
    pub mean_spearman: f32,
    pub min_spearman: f32,
    /// The same with the second model explaining the class the first one predicted: how
    /// much the explanation of one question moves.
    pub mean_spearman_same_class: f32,
    pub min_spearman_same_class: f32,
    /// Share of texts where both models predict the same class.
    pub same_prediction: f32,
    /// Share of texts where, explaining the same class, both choose the same layer.
    pub same_layer: f32,
}

/// Running mean and minimum of Spearman correlations.
#[derive(Default)]
struct Correlations {
    sum: f32,
    min: f32,
    counted: usize,
}

impl Correlations {
    fn add(&mut self, a: &crate::Explanation, b: &crate::Explanation) {
        let wa: Vec<f32> = a.words.iter().map(|w| w.saliency).collect();
        let wb: Vec<f32> = b.words.iter().map(|w| w.saliency).collect();
        if wa.len() >= 3 && wa.len() == wb.len() {
            let rho = spearman(&wa, &wb);
            if rho.is_finite() {
                self.min = if self.counted == 0 { rho } else { self.min.min(rho) };
                self.sum += rho;
                self.counted += 1;
            }
        }
    }

    fn mean(&self) -> f32 {
        self.sum / self.counted.max(1) as f32
    }
}

/// Explains every text with both explainers (same options; each its own predicted class
/// unless the options fix one, and also the second explaining the first one's class) and
/// compares their word saliency.
pub fn agreement(a: &Explainer, b: &Explainer, texts: &[String], options: &Options) -> Result<Agreement> {
    let options = Options { faithfulness: false, ..options.clone() };
    let (mut own, mut fixed) = (Correlations::default(), Correlations::default());
    let (mut same, mut same_layer) = (0usize, 0usize);
    for text in texts {
        let (ea, eb) = (a.explain(text, &options, false)?, b.explain(text, &options, false)?);
        same += (ea.predicted == eb.predicted) as usize;
        own.add(&ea, &eb);
        let eb_same = if eb.target == ea.target {
            eb
        } else {
            let target = Some(crate::options::ClassChoice::Index(ea.target));
            b.explain(text, &Options { target, ..options.clone() }, false)?
        };
        same_layer += (eb_same.layer == ea.layer) as usize;
        fixed.add(&ea, &eb_same);
    }
    let share = |n: usize| n as f32 / texts.len().max(1) as f32;
    Ok(Agreement {
        texts: texts.len(),
        mean_spearman: own.mean(),
        min_spearman: own.min,
        mean_spearman_same_class: fixed.mean(),
        min_spearman_same_class: fixed.min,
        same_prediction: share(same),
        same_layer: share(same_layer),
    })
}

/// `count` items spread evenly over `items` (item floor(i * len / count) for i < count),
/// in order; all of them if `count >= len`. Labelled files are often sorted by label (the
/// tweets' test split is: negative, then neutral, then positive), so the first `count`
/// would all share one label.
pub fn evenly_spaced<T: Clone>(items: &[T], count: usize) -> Vec<T> {
    let (len, count) = (items.len(), count.min(items.len()));
    (0..count).map(|i| items[i * len / count].clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_evenly_spaced_sample_of_a_sorted_file_keeps_its_proportions() {
        let sorted: Vec<usize> = (0..900).map(|i| i / 300).collect(); // three labels in runs of 300
        let sample = evenly_spaced(&sorted, 30);
        assert_eq!(sample.len(), 30);
        for label in 0..3 {
            assert_eq!(sample.iter().filter(|&&l| l == label).count(), 10);
        }
        let indices = evenly_spaced(&(0..10).collect::<Vec<_>>(), 4);
        assert_eq!(indices, vec![0, 2, 5, 7]);
        assert_eq!(evenly_spaced(&[1, 2, 3], 10), vec![1, 2, 3]);
        assert!(evenly_spaced(&[1, 2, 3], 0).is_empty());
        assert!(evenly_spaced::<u8>(&[], 5).is_empty());
    }

    #[test]
    fn spearman_on_hand_worked_cases() {
        assert!((spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]) - 1.0).abs() < 1e-6);
        assert!((spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-6);
        // ranks [1,2,3,4] vs [2,1,4,3]: d^2 = 4, rho = 1 - 6*4/(4*15) = 0.6
        assert!((spearman(&[1.0, 2.0, 3.0, 4.0], &[2.0, 1.0, 4.0, 3.0]) - 0.6).abs() < 1e-6);
        // ties get average ranks
        assert!((spearman(&[1.0, 1.0, 2.0], &[1.0, 1.0, 2.0]) - 1.0).abs() < 1e-6);
    }
}
