import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createApi } from './api.js';
import { App } from './App.js';
import { AppProvider } from './app-context.js';
import { ToastProvider } from './components/toast.js';
import { loadConfig } from './config.js';
import './styles.css';

void loadConfig().then((config) => {
  const root = document.getElementById('root');
  if (!root) return;
  createRoot(root).render(
    <StrictMode>
      <AppProvider api={createApi()} config={config}>
        <ToastProvider>
          <App />
        </ToastProvider>
      </AppProvider>
    </StrictMode>,
  );
});
