import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { selectBridge } from './bridge';
import { connectionFromHash, createConnectionsStore, startConnections } from './connections-store';
import { createDashboardStore, startDashboard } from './store';
import { ConnectionsContext } from './use-connections';
import { DashboardContext } from './use-dashboard';
import './styles.css';

const container = document.getElementById('root');
if (!container) throw new Error('index.html must contain <div id="root">');

const root = createRoot(container);
try {
  const bridge = selectBridge();
  const store = createDashboardStore(bridge);
  const connections = createConnectionsStore(bridge, store, {
    initial: connectionFromHash(window.location.hash),
    schedule: (flush) => requestAnimationFrame(flush),
    // The company shown survives a reload; the default one leaves the URL as it always was.
    remember: (id) =>
      window.history.replaceState(
        null,
        '',
        id ? `#connection=${encodeURIComponent(id)}` : window.location.pathname,
      ),
  });
  startDashboard(store, bridge);
  startConnections(connections, bridge);
  root.render(
    <StrictMode>
      <DashboardContext.Provider value={store}>
        <ConnectionsContext.Provider value={connections}>
          <App />
        </ConnectionsContext.Provider>
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
