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
import { AddCompanyWhenSingle } from './components/connections/AddCompanyWhenSingle';
import { Workspace } from './components/connections/Workspace';
import { useWindowTitle } from './use-window-title';

export function App() {
  useWindowTitle();
  return (
    <div className="app">
      <header className="topbar">
        <div className="brand">
          <span className="logo" aria-hidden="true">
            QB
          </span>
          <h1>QB Token Desk</h1>
          <AddCompanyWhenSingle />
        </div>
        <ActionsBar />
      </header>
      <LiveRegion />
      <Workspace>
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
      </Workspace>
      <ActionResults />
    </div>
  );
}
