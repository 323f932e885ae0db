"""What the services really share: public event contracts, messaging, config and clocks."""
