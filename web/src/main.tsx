import "uplot/dist/uPlot.min.css";
import "./app.css";
import { render } from "preact";
import { KeyDialog, KeysButton } from "./components/KeyDialog.tsx";
import { linkClick, navigate, useLocation } from "./lib/router.ts";
import { ChatPage } from "./pages/ChatPage.tsx";
import { ConversationsPage } from "./pages/ConversationsPage.tsx";
import { DashboardPage } from "./pages/DashboardPage.tsx";
import { ModelsPage } from "./pages/ModelsPage.tsx";

const PAGES = [
  { path: "/chat", label: "Chat", page: ChatPage },
  { path: "/conversations", label: "Conversations", page: ConversationsPage },
  { path: "/dashboard", label: "Dashboard", page: DashboardPage },
  { path: "/models", label: "Models", page: ModelsPage },
] as const;

function App() {
  const { path } = useLocation();
  if (path === "/" || path === "/index.html") queueMicrotask(() => navigate("/chat", true));
  const current = PAGES.find((p) => path === p.path || path.startsWith(`${p.path}/`)) ?? PAGES[0];
  const Page = current.page;
  return (
    <div class="shell">
      <header class="topbar">
        <a class="brand" href="/chat" onClick={linkClick}>Hearth</a>
        <nav aria-label="Main">
          {PAGES.map((p) => (
            <a key={p.path} href={p.path} onClick={linkClick} aria-current={p === current ? "page" : undefined}>{p.label}</a>
          ))}
        </nav>
        <span class="spacer" />
        <KeysButton />
      </header>
      <main class={`page page-${current.label.toLowerCase()}`}>
        <Page />
      </main>
      <KeyDialog />
    </div>
  );
}

document.title = "Hearth";
render(<App />, document.getElementById("app")!);
