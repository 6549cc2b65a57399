"""Operations: everything that changes the installation (deploy, switch, roll back, canary,
reset a database, reconcile). Each yields frozen `OperationEvent`s under the operator lock."""
