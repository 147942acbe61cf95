"""Alarms that say a run did not reach the archive, and where they are sent."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from ..settings import Settings
from ._checkov import skip_checks

PERIOD = Duration.minutes(5)


class Alarms(Construct):
    """A refused or failing run lands in the DLQ; errors, throttles and a stuck queue come first.

    ``topic`` exists only when an alarm e-mail is configured; the alarms exist either way.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
        function: lambda_.IFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letters = self._alarm(
            "DeadLetters",
            "A run was refused or kept failing: its message is in the dead-letter queue",
            dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=PERIOD, statistic="Maximum"
            ),
        )
        self.errors = self._alarm(
            "FilerErrors",
            "The filer function failed (crash, timeout or out of memory)",
            function.metric_errors(period=PERIOD, statistic="Sum"),
        )
        self.throttles = self._alarm(
            "FilerThrottles",
            "The filer was throttled: runs wait in the queue",
            function.metric_throttles(period=PERIOD, statistic="Sum"),
        )
        self.oldest_message = self._alarm(
            "OldestMessageAge",
            "A committed run has waited too long to be filed",
            queue.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Maximum"),
            threshold=settings.oldest_message_age_alarm_minutes * 60,
        )
        self.alarms = [self.dead_letters, self.errors, self.throttles, self.oldest_message]
        self.topic: sns.Topic | None = None
        if settings.alarm_email:
            self.topic = self._topic(settings.alarm_email)
            for alarm in self.alarms:
                alarm.add_alarm_action(actions.SnsAction(self.topic))
                alarm.add_ok_action(actions.SnsAction(self.topic))

    def _alarm(self, construct_id: str, description: str, metric: cloudwatch.IMetric,
               threshold: float = 1) -> cloudwatch.Alarm:
        """An alarm on one period of ``metric`` at or above ``threshold``; no data is no alarm."""
        return cloudwatch.Alarm(
            self,
            construct_id,
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _topic(self, email: str) -> sns.Topic:
        """The topic the alarms publish to, with ``email`` subscribed."""
        topic = sns.Topic(self, "Topic", display_name="artifact-backup alarms", enforce_ssl=True)
        skip_checks(topic, ("CKV_AWS_26", "Alarm notifications carry an alarm's name and state, "
                            "no data; CloudWatch alarms cannot publish to a topic under the "
                            "AWS-managed SNS key, and a customer key adds a fee for nothing."))
        topic.add_subscription(subscriptions.EmailSubscription(email))
        NagSuppressions.add_resource_suppressions(
            topic,
            [
                NagPackSuppression(
                    id="AwsSolutions-SNS2",
                    reason=(
                        "CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed "
                        "SNS key, and the alarm messages carry no artifact data, so a customer "
                        "managed key would add a monthly cost and no protection."
                    ),
                )
            ],
        )
        return topic
