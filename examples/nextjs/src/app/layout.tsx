import type { ReactNode } from 'react';

export const metadata = { title: 'QuickBooks integration' };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body style={{ fontFamily: 'system-ui, sans-serif', margin: '2rem', maxWidth: '48rem' }}>
        {children}
      </body>
    </html>
  );
}
