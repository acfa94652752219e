/** Renderer entry: one Vue app with Pinia and the hash router. */
import { createApp } from 'vue';
import { createPinia } from 'pinia';
import App from './App.vue';
import { isBrowserShell } from './api';
import { installUnsavedWarning, registerUnsaved } from './composables/use-unsaved-warning';
import { keptSettingsDraft } from './stores/kept-draft';
import { createAppRouter } from './router';
import './styles/main.css';

// `backstop serve` in a browser: closing or reloading the tab asks while a form holds unsaved edits.
// Settings' unsaved edits are kept while they differ from the settings in force, shown or not.
if (isBrowserShell()) {
  installUnsavedWarning(window);
  registerUnsaved(() => keptSettingsDraft() !== null);
}

createApp(App).use(createPinia()).use(createAppRouter()).mount('#app');
