export function App() {
  return (
    <main>
      <h1>QB Token Desk</h1>
      <p>Loading token status…</p>
    </main>
  );
}
