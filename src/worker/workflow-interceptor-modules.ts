/**
 * Workflow interceptor modules, bundled with the workflows: request ids in workflow logs, and
 * the OpenTelemetry workflow spans when tracing is on. A prebuilt bundle must include them.
 */
export function workflowInterceptorModules(tracing: boolean): string[] {
  return [
    require.resolve('../../workflows/request-id'),
    ...(tracing
      ? [require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')]
      : []),
  ];
}
