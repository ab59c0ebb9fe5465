import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { selectBridge } from './bridge';
import { createDashboardStore, startDashboard } from './store';
import { DashboardContext } from './use-dashboard';
import './styles.css';

const container = document.getElementById('root');
if (!container) throw new Error('index.html must contain <div id="root">');

const root = createRoot(container);
try {
  const bridge = selectBridge();
  const store = createDashboardStore(bridge);
  startDashboard(store, bridge);
  root.render(
    <StrictMode>
      <DashboardContext.Provider value={store}>
        <App />
      </DashboardContext.Provider>
    </StrictMode>,
  );
} catch (error) {
  root.render(
    <main className="content">
      <p className="outcome tone-bad" role="alert">
        {error instanceof Error ? error.message : 'The dashboard could not start.'}
      </p>
    </main>,
  );
}
