// TODO(issue 10): the failure-alerts banner (dead or unknown jobs in the last 24 h).

export async function refreshAlerts(ctx) {
  void ctx;
}
