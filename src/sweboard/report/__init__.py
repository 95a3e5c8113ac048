"""The analyst's page (`runs/leaderboard.html`): static HTML with inline SVG, no JavaScript, opens offline."""
