"""Docker Swarm as a bluegreen runtime: each colour is one Swarm service with several tasks."""
