# The Airflow image of the deployment: Airflow 3.3.2 plus this project, from the same lock as development.
FROM apache/airflow:3.3.2-python3.11
USER root
COPY --chown=airflow:root . /opt/welfare
USER airflow
RUN pip install --no-cache-dir "uv==0.13.8" \
 && cd /opt/welfare \
 && uv export --frozen --no-dev --no-emit-project --no-hashes -o /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt \
 && pip install --no-cache-dir --no-deps -e /opt/welfare
WORKDIR /opt/welfare
