// Alerts on DiagnosticCredential's own telemetry, ready to deploy (docs/alerts/README.md):
//  1. a burst of 401/403 from managed-identity-backed dependencies, per hypothesis, dependency host, revision and replica
//     (the runbook's prevention list: "Alert on new 401/403 bursts"), over the library's JSON log line;
//  2. any getToken failure (no token at all: the app is down), per hypothesis, revision and replica;
//  3. the same burst from the `diagnostic_credential.diagnoses` metric in Application Insights (optional).
// az deployment group create --resource-group "$RG" --template-file identity-failures.bicep \
//   --parameters workspaceId="$WORKSPACE_ID" appName="$APP_NAME" actionGroupId="$ACTION_GROUP_ID"

@description('Resource id of the Log Analytics workspace that receives the Container Apps console logs.')
param workspaceId string

@description('Resource id of the Application Insights component that receives the OpenTelemetry metrics; empty: no metric rule.')
param appInsightsId string = ''

@description('The Container App (CONTAINER_APP_NAME): lowercase letters, digits and hyphens.')
@minLength(2)
@maxLength(32)
param appName string

@description('Resource id of the action group to notify.')
param actionGroupId string

@description('Diagnosed 401/403 failures (folded repeats counted) in 15 minutes that make a burst.')
@minValue(1)
param burstThreshold int = 20

@description('Location of the alert rules.')
param location string = resourceGroup().location

var burstQuery = '''
ContainerAppConsoleLogs_CL
| where ContainerAppName_s == AppName
| where Log_s has "DiagnosticCredential"
| extend d = parse_json(Log_s)
| where tostring(d.message) startswith "DiagnosticCredential ["
| where tostring(d.source) != "recovery" and toint(d.status) in (401, 403)
| summarize failures = sum(toint(d["count"])) by hypothesis = tostring(d.hypothesis), host = tostring(d.host), revision = tostring(d.containerApp.revision), replica = tostring(d.containerApp.replica)
'''

var getTokenQuery = '''
ContainerAppConsoleLogs_CL
| where ContainerAppName_s == AppName
| where Log_s has "DiagnosticCredential"
| extend d = parse_json(Log_s)
| where tostring(d.message) startswith "DiagnosticCredential ["
| where tostring(d.source) == "getToken" and tostring(d.level) == "error"
| summarize failures = sum(toint(d["count"])) by hypothesis = tostring(d.hypothesis), code = tostring(d.code), revision = tostring(d.containerApp.revision), replica = tostring(d.containerApp.replica)
'''

var metricQuery = '''
customMetrics
| where name == "diagnostic_credential.diagnoses"
| extend status = toint(customDimensions["http.response.status_code"])
| where status in (401, 403)
| summarize failures = sum(valueSum) by hypothesis = tostring(customDimensions["diagnostic_credential.hypothesis"]), service = tostring(customDimensions["diagnostic_credential.service"]), revision = tostring(customDimensions["azure.container_app.revision"]), replica = tostring(customDimensions["azure.container_app.replica"])
'''

// The app's name reaches the query as a KQL string literal: backslashes and quotes escaped for KQL.
var appNameLiteral = '\'${replace(replace(appName, '\\', '\\\\'), '\'', '\\\'')}\''

resource burst 'Microsoft.Insights/scheduledQueryRules@2021-08-01' = {
  name: '${appName}-identity-401-403-burst'
  location: location
  kind: 'LogAlert'
  properties: {
    displayName: '${appName}: managed identity 401/403 burst'
    description: 'DiagnosticCredential diagnosed more than ${burstThreshold} 401/403 answers in 15 minutes. The hypothesis dimension names the layer (H2 RBAC, H3 audience, H4 stale token or identity mix-up); host names the dependency; revision and replica say whether it came with a deploy or one replica.'
    severity: 2
    enabled: true
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    scopes: [
      workspaceId
    ]
    criteria: {
      allOf: [
        {
          query: 'let AppName = ${appNameLiteral};${burstQuery}'
          timeAggregation: 'Total'
          metricMeasureColumn: 'failures'
          dimensions: [
            {
              name: 'hypothesis'
              operator: 'Include'
              values: [
                '*'
              ]
            }
            {
              name: 'host'
              operator: 'Include'
              values: [
                '*'
              ]
            }
            {
              name: 'revision'
              operator: 'Include'
              values: [
                '*'
              ]
            }
            {
              name: 'replica'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: burstThreshold
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroupId
      ]
    }
  }
}

resource getTokenFailures 'Microsoft.Insights/scheduledQueryRules@2021-08-01' = {
  name: '${appName}-identity-gettoken-failures'
  location: location
  kind: 'LogAlert'
  properties: {
    displayName: '${appName}: managed identity getToken failures'
    description: 'DiagnosticCredential could not get a token (H1 identity not assigned, H5 identity endpoint unreachable, or a token-time H3/H4): the app cannot reach any dependency with managed identity.'
    severity: 1
    enabled: true
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    scopes: [
      workspaceId
    ]
    criteria: {
      allOf: [
        {
          query: 'let AppName = ${appNameLiteral};${getTokenQuery}'
          timeAggregation: 'Total'
          metricMeasureColumn: 'failures'
          dimensions: [
            {
              name: 'hypothesis'
              operator: 'Include'
              values: [
                '*'
              ]
            }
            {
              name: 'revision'
              operator: 'Include'
              values: [
                '*'
              ]
            }
            {
              name: 'replica'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroupId
      ]
    }
  }
}

resource metricBurst 'Microsoft.Insights/scheduledQueryRules@2021-08-01' = if (!empty(appInsightsId)) {
  name: '${appName}-identity-401-403-metric'
  location: location
  kind: 'LogAlert'
  properties: {
    displayName: '${appName}: managed identity 401/403 burst (metric)'
    description: 'The diagnostic_credential.diagnoses metric counted more than ${burstThreshold} 401/403 diagnoses in 15 minutes, per hypothesis, service, revision and replica.'
    severity: 2
    enabled: true
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    scopes: [
      appInsightsId
    ]
    criteria: {
      allOf: [
        {
          query: metricQuery
          timeAggregation: 'Total'
          metricMeasureColumn: 'failures'
          dimensions: [
            {
              name: 'hypothesis'
              operator: 'Include'
              values: [
                '*'
              ]
            }
            {
              name: 'service'
              operator: 'Include'
              values: [
                '*'
              ]
            }
            {
              name: 'revision'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: burstThreshold
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroupId
      ]
    }
  }
}

output ruleIds array = concat([burst.id, getTokenFailures.id], empty(appInsightsId) ? [] : [metricBurst.id])
