// One script to embed the explainer in any page:
//   <script type="module" src="https://your.host/layer-saliency/embed.js"></script>
//   <layer-saliency text="Text to explain" model="minilm-sentiment" method="dls"></layer-saliency>
// The worker, the wasm and the models are found next to this file, wherever it is served.
import { LayerSaliencyElement } from './elements/layer-saliency.js';

LayerSaliencyElement.define();
export { LayerSaliencyElement };
