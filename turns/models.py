# Chat turns arrive with the agent issue; the app exists so its migrations have a home.
