//! Scenario files (TOML): the model, validation, and the random fault schedule.
