import { AccessTokenCard } from './components/AccessTokenCard';
import { ActionResults } from './components/ActionResults';
import { ActionsBar } from './components/ActionsBar';
import { AutoRefreshCard } from './components/AutoRefreshCard';
import { ConnectionCard } from './components/ConnectionCard';
import { CountersCard } from './components/CountersCard';
import { HealthBanner } from './components/HealthBanner';
import { HistoryList } from './components/HistoryList';
import { LastRefreshCard } from './components/LastRefreshCard';
import { LiveRegion } from './components/LiveRegion';
import { LoadError } from './components/LoadError';
import { RefreshTokenCard } from './components/RefreshTokenCard';
import { TokenTimeline } from './components/timeline/TokenTimeline';
import { Warnings } from './components/Warnings';

export function App() {
  return (
    <div className="app">
      <header className="topbar">
        <div className="brand">
          <span className="logo" aria-hidden="true">
            QB
          </span>
          <h1>QB Token Desk</h1>
        </div>
        <ActionsBar />
      </header>
      <LiveRegion />
      <main className="content">
        <LoadError />
        <HealthBanner />
        <Warnings />
        <div className="grid">
          <AccessTokenCard />
          <AutoRefreshCard />
          <LastRefreshCard />
          <RefreshTokenCard />
          <ConnectionCard />
          <CountersCard />
          <TokenTimeline />
          <HistoryList />
        </div>
      </main>
      <ActionResults />
    </div>
  );
}
