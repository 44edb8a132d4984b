//! Step 6: the browser's entry point. A thin wasm-bindgen shell over [`Explainer`]: files go
//! in by role, options go in as the page's object, and out comes the same JSON that
//! `saliency explain --json` prints. No logic lives here.

use crate::model::files::FileSet;
use crate::options::OptionsRequest;
use crate::Explainer;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(start)]
fn start() {
    // A Rust panic becomes a console message with its location instead of "unreachable".
    console_error_panic_hook::set_once();
}

fn js_error(err: crate::Error) -> JsError {
    JsError::new(&err.to_string())
}

/// Model files collected by the worker before loading (see `model/files.rs` for roles).
#[wasm_bindgen]
#[derive(Default)]
pub struct ModelFileSet {
    set: FileSet,
}

#[wasm_bindgen]
impl ModelFileSet {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the bytes of the file playing `role` (e.g. "config.json"); `source` names it in
    /// error messages (a URL or a file name).
    pub fn add(&mut self, role: &str, source: &str, bytes: Vec<u8>) -> Result<(), JsError> {
        self.set.add(role, source, bytes).map_err(js_error)
    }

    /// Quantizes Hugging Face weights while loading (`spec` as `saliency pack --quant`,
    /// e.g. "q8_0"), so a hub checkpoint takes a quarter of its f32 memory.
    pub fn quantize(&mut self, spec: &str) -> Result<(), JsError> {
        self.set.quantize = Some(crate::model::pack::QuantPlan::parse(spec).map_err(js_error)?);
        Ok(())
    }
}

/// A loaded model, ready to explain texts.
#[wasm_bindgen]
pub struct WasmExplainer {
    inner: Explainer,
    /// The last explanation, kept so its faithfulness can be measured after it is shown.
    last: std::cell::RefCell<Option<crate::explain::Explanation>>,
}

#[wasm_bindgen]
impl WasmExplainer {
    /// Loads the model; the file set is consumed so its bytes are freed after loading.
    #[wasm_bindgen(constructor)]
    pub fn new(files: ModelFileSet, name: &str) -> Result<WasmExplainer, JsError> {
        let inner = Explainer::from_file_set(&files.set, name).map_err(js_error)?;
        inner.model().prepare();
        Ok(Self { inner, last: Default::default() })
    }

    /// Explains `text`; `options` is an object with the fields of `OptionsRequest`
    /// (method, layer, target, contrast, agg, tau, theta, decoder, ig_steps, seed,
    /// faithfulness). `progress`, when given, is called as `progress(done, total)` as the
    /// windows of a long text finish. Returns the Explanation as a JSON string.
    #[wasm_bindgen(js_name = explainJson)]
    pub fn explain_json(
        &self,
        text: &str,
        options: JsValue,
        progress: Option<js_sys::Function>,
    ) -> Result<String, JsError> {
        let request: OptionsRequest = if options.is_undefined() || options.is_null() {
            OptionsRequest::default()
        } else {
            serde_wasm_bindgen::from_value(options).map_err(|e| JsError::new(&format!("options: {e}")))?
        };
        let options = request.to_options().map_err(js_error)?;
        let mut report = |done: usize, total: usize| {
            if let Some(f) = &progress {
                // A throwing callback only loses a progress line, never the explanation.
                let _ = f.call2(&JsValue::NULL, &JsValue::from(done as u32), &JsValue::from(total as u32));
            }
        };
        let explanation = self.inner.explain_with_progress(text, &options, true, &mut report).map_err(js_error)?;
        let json = serde_json::to_string(&explanation).map_err(|e| JsError::new(&e.to_string()))?;
        *self.last.borrow_mut() = Some(explanation);
        Ok(json)
    }

    /// Adds faithfulness metrics to the last explanation (made with `faithfulness: false`)
    /// and returns it whole, as `explainJson` would have with `faithfulness: true`.
    #[wasm_bindgen(js_name = faithfulnessJson)]
    pub fn faithfulness_json(&self) -> Result<String, JsError> {
        let mut last = self.last.borrow_mut();
        let explanation = last.as_mut().ok_or_else(|| JsError::new("there is no explanation to measure yet"))?;
        if explanation.faithfulness.is_none() {
            self.inner.add_faithfulness(explanation).map_err(js_error)?;
        }
        serde_json::to_string(&*explanation).map_err(|e| JsError::new(&e.to_string()))
    }

    /// Times the explanation pipeline at each input length in `lengths` (tokens), as
    /// `saliency bench` does natively (integrated gradients only when `with_ig`). Returns
    /// the rows as JSON.
    #[wasm_bindgen(js_name = benchJson)]
    pub fn bench_json(&self, lengths: Vec<u32>, repeats: u32, with_ig: bool) -> Result<String, JsError> {
        let lengths: Vec<usize> = lengths.into_iter().map(|n| n as usize).collect();
        let rows =
            crate::metrics::bench::bench(&self.inner, &lengths, repeats.max(1) as usize, with_ig).map_err(js_error)?;
        serde_json::to_string(&rows).map_err(|e| JsError::new(&e.to_string()))
    }

    /// The single-core ceilings measured by tight kernels and the int8 kernel's rate on the
    /// model's largest products at 64 tokens (`metrics::peak`), as JSON.
    #[wasm_bindgen(js_name = throughputJson)]
    pub fn throughput_json(&self, repeats: u32) -> Result<String, JsError> {
        use crate::metrics::peak::{model_shapes, throughput};
        let t = throughput(&model_shapes(&self.inner.model().config, 64), repeats as usize);
        serde_json::to_string(&t).map_err(|e| JsError::new(&e.to_string()))
    }

    /// Labels, layer count and decoder of the loaded model, as JSON.
    #[wasm_bindgen(js_name = infoJson)]
    pub fn info_json(&self) -> String {
        let m = self.inner.model();
        serde_json::json!({
            "labels": m.labels,
            "layers": m.num_layers(),
            "hidden_size": m.config.hidden_size,
            "vocab_size": m.config.vocab_size,
            "decoder": m.decoder.kind(),
            "max_positions": m.config.max_positions,
        })
        .to_string()
    }
}
