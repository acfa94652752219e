/** Renderer entry: one Vue app with Pinia and the hash router. */
import { createApp } from 'vue';
import { createPinia } from 'pinia';
import App from './App.vue';
import { createAppRouter } from './router';
import './styles/main.css';

createApp(App).use(createPinia()).use(createAppRouter()).mount('#app');
