# The Airflow image of the deployment: Airflow 3.3.2 plus this project, from the same lock as development
# (the CeleryExecutor's provider and its Redis client among them). Every Airflow service, worker and
# one-shot of docker-compose.yml runs it; so does a worker on another host (docs/deployment.md).
# The build context is the checkout minus .dockerignore: no .env, no drops/ (real source drops hold
# personal data) and no .local/ state get into the image; the build fails if one did.
FROM apache/airflow:3.3.2-python3.11
USER root
COPY --chown=airflow:root . /opt/welfare
RUN for p in .env drops .local; do \
      if [ -e "/opt/welfare/$p" ]; then echo "$p is in the build context: fix .dockerignore" >&2; exit 1; fi; \
    done
USER airflow
# $WELFARE_HOME and its airflow/logs exist in the image, 0700, so the welfare-home and airflow-logs
# volumes start as the airflow user's; airflow-init gives them to AIRFLOW_UID when that differs.
RUN pip install --no-cache-dir "uv==0.13.8" \
 && cd /opt/welfare \
 && uv export --frozen --no-dev --no-emit-project --no-hashes -o /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt \
 && pip install --no-cache-dir --no-deps -e /opt/welfare \
 && install -d -m 0700 /opt/welfare/home /opt/welfare/home/airflow /opt/welfare/home/airflow/logs \
 && python -c "import airflow.providers.celery.executors.celery_executor, airflow.providers.fab.auth_manager.fab_auth_manager, redis, welfare.orchestration.dags"
WORKDIR /opt/welfare
